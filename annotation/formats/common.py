"""Pieces every format shares: the export row, safe CSV cells, sidecars, media lookup.

Readers return `annotation.ingest.records.ParsedImport`; writers take `ExportRow`s, so
neither touches the database.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from annotation.csv_cells import (
    neutralise_cell,
    restore_cell,
)
from annotation.ingest.records import ClipRecord, ParsedImport, RowError

MEDIA_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".flv", ".wav", ".mp3", ".m4a", ".flac")


class ExportRow(BaseModel):
    """One clip's content from one source, ready for any writer."""

    name: str
    emotion: str | None = None
    # Open-vocabulary emotion words (MER2025/2026 `openset`).
    emotion_words: list[str] = Field(default_factory=list)
    clues: dict[str, str] = Field(default_factory=dict)
    reasoning: str = ""
    transcript: str = ""
    language: str | None = None
    # Other-language versions, as in Reference.translations: {"zh": {"reasoning": ...}}.
    translations: dict[str, Any] = Field(default_factory=dict)
    spans: list[dict[str, Any]] = Field(default_factory=list)
    # Who said it: an annotator's name for raw labels, a method for consensus.
    annotator: str | None = None
    provenance: dict[str, Any] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)



def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """UTF-8 CSV (with BOM so spreadsheet programs read Chinese), formula cells neutralised."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([neutralise_cell("" if v is None else v) for v in row])
            count += 1
    return count


def read_text(path: Path) -> str:
    """File text: UTF-8 (BOM or not), else GB18030, the common encoding of Chinese CSVs."""
    raw = Path(path).read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError(f"{path.name}: not UTF-8 or GB18030 text")


def csv_header(path: Path) -> list[str]:
    """Lower-cased, stripped header names of a CSV file ([] if not a readable .csv)."""
    path = Path(path)
    if path.suffix.lower() != ".csv" or not path.is_file():
        return []
    try:
        with path.open("rb") as handle:
            head = handle.read(65536)
    except OSError:
        return []
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = head.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = head.decode("utf-8", errors="ignore")
    first = text.splitlines()[:1]
    if not first:
        return []
    return [h.strip().lower() for h in next(csv.reader(first))]


def iter_csv(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, {lower-cased column: stripped cell}) with the header as row 1."""
    reader = csv.DictReader(io.StringIO(read_text(path)))
    reader.fieldnames = [h.strip().lower() for h in (reader.fieldnames or [])]
    for number, row in enumerate(reader, start=2):
        yield number, {k: restore_cell((v or "").strip()) for k, v in row.items() if k is not None}


_SPLIT_WORDS = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                "dev": "val", "test": "test", "test1": "test", "test2": "test", "test3": "test"}


def split_from_path(path: Path) -> str | None:
    """'train', 'val' or 'test' when the file name says so (set_1_train.csv, test1-label.csv)."""
    words = re.split(r"[^a-z0-9]+", Path(path).stem.lower())
    return next((_SPLIT_WORDS[w] for w in words if w in _SPLIT_WORDS), None)


def media_index(media_dir: str | Path | None) -> dict[str, Path]:
    """Media files in a folder (recursively), keyed by file stem."""
    if not media_dir:
        return {}
    root = Path(media_dir)
    if not root.is_dir():
        return {}
    index: dict[str, Path] = {}
    for file in sorted(root.rglob("*")):
        if file.is_file() and file.suffix.lower() in MEDIA_SUFFIXES:
            index.setdefault(file.stem, file)
    return index


class ParsedBuilder:
    """Collects clips, references and errors; refuses a second row with the same name."""

    def __init__(self, media_dir: str | Path | None = None) -> None:
        self.parsed = ParsedImport()
        self._media = media_index(media_dir)
        self._seen: set[str] = set()

    def add_clip(self, clip: ClipRecord, *, row: int | None) -> bool:
        if clip.name in self._seen:
            self.error(row, clip.name, f"duplicate name {clip.name!r}: kept the first row")
            return False
        self._seen.add(clip.name)
        if clip.media_path is None and clip.name in self._media:
            clip.media_path = str(self._media[clip.name])
        self.parsed.clips.append(clip)
        return True

    def error(self, row: int | None, name: str | None, reason: str) -> None:
        self.parsed.errors.append(RowError(row=row, name=name, reason=reason))


def write_sidecar(path: Path, *, format_name: str, source: str, split: str | None, count: int,
                  extra: dict[str, Any] | None = None) -> Path:
    """`<file>.meta.json`: what an exported file contains and where it came from."""
    sidecar = path.with_name(path.name + ".meta.json")
    body = {
        "format": format_name,
        "source": source,
        "split": split,
        "rows": count,
        "file": path.name,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "generator": "ClueLab",
    }
    body.update(extra or {})
    sidecar.write_text(json.dumps(body, ensure_ascii=False, indent=2), encoding="utf-8")
    return sidecar


def load_json(path: Path) -> Any:
    return json.loads(read_text(path))


def sniff_json(path: Path, limit: int = 65536) -> str:
    """The first bytes of a JSON file, for cheap detection."""
    try:
        with Path(path).open("rb") as handle:
            return handle.read(limit).decode("utf-8", errors="ignore")
    except OSError:
        return ""


def rows_from_parsed(parsed: ParsedImport, source: str | None = None) -> list[ExportRow]:
    """Export rows straight from a parsed file (no database): one per reference, else per clip."""
    clips = {c.name: c for c in parsed.clips}
    rows: list[ExportRow] = []
    covered: set[str] = set()
    for ref in parsed.references:
        if source is not None and ref.source != source:
            continue
        clip = clips.get(ref.clip_name)
        covered.add(ref.clip_name)
        meta = {**(clip.meta if clip else {}), **ref.meta}
        rows.append(ExportRow(
            name=ref.clip_name, emotion=ref.emotion or (clip.emotion if clip else None), clues=dict(ref.clues),
            reasoning=ref.reasoning, transcript=clip.transcript if clip else "",
            language=ref.language or (clip.language if clip else None), translations=dict(ref.translations),
            spans=list(ref.spans), annotator=ref.meta.get("annotator"), meta=meta))
    if source is None:
        for clip in parsed.clips:
            if clip.name not in covered:
                rows.append(ExportRow(name=clip.name, emotion=clip.emotion, transcript=clip.transcript,
                                      language=clip.language, meta=dict(clip.meta)))
    return rows
