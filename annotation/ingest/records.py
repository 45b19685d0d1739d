"""Plain records that importers produce and `annotation.ingest.importer` stores.

Every format reader (folder, manifest, EMER, MERR, MER-Factory, label files)
turns its input into these, so storing, de-duplicating and reporting happen in
one place.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class WordTiming(BaseModel):
    word: str
    start: float
    end: float
    # asr | aligned | estimated (annotation.ingest.transcripts), and the word's offset in its transcript.
    timing: str | None = None
    at: int | None = None


class ClipRecord(BaseModel):
    """One clip to import. `media_path` is None for a text-only clip."""

    name: str = Field(min_length=1, max_length=255)
    media_path: str | None = None
    transcript: str = ""
    transcript_words: list[WordTiming] = Field(default_factory=list)
    # Where the transcript came from: "subtitle" (a subtitle file), "manifest" (a column).
    transcript_source: str | None = None
    emotion: str | None = None
    speaker: str | None = None
    language: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class ReferenceRecord(BaseModel):
    """Reasoning or a label for a clip from a named outside source (e.g. `emer-gt`)."""

    clip_name: str
    source: str
    emotion: str | None = None
    emotion_words: list[str] = Field(default_factory=list)
    clues: dict[str, str] = Field(default_factory=dict)
    reasoning: str = ""
    language: str | None = None
    translations: dict[str, Any] = Field(default_factory=dict)
    spans: list[dict[str, Any]] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)


class RowError(BaseModel):
    """A row that could not be read: `row` is 1-based within its file (header = row 1)."""

    row: int | None = None
    name: str | None = None
    reason: str


class ParsedImport(BaseModel):
    clips: list[ClipRecord] = Field(default_factory=list)
    references: list[ReferenceRecord] = Field(default_factory=list)
    errors: list[RowError] = Field(default_factory=list)


class ImportReport(BaseModel):
    """What an import did, item by item counts and reasons."""

    created: int = 0
    duplicates: int = 0
    updated: int = 0
    references_created: int = 0
    references_unchanged: int = 0
    errors: list[RowError] = Field(default_factory=list)
    clip_ids: list[int] = Field(default_factory=list)

    def absorb(self, other: ImportReport) -> None:
        """Add `other`'s counts, errors and clips to this report (one report for several files)."""
        self.created += other.created
        self.duplicates += other.duplicates
        self.updated += other.updated
        self.references_created += other.references_created
        self.references_unchanged += other.references_unchanged
        self.errors += other.errors
        self.clip_ids += other.clip_ids

    def summary(self) -> str:
        parts = [f"{self.created} new clip(s)", f"{self.duplicates} duplicate(s) skipped"]
        if self.references_created or self.references_unchanged:
            parts.append(f"{self.references_created} reference(s) stored, {self.references_unchanged} unchanged")
        parts.append(f"{len(self.errors)} error(s)")
        return ", ".join(parts)
