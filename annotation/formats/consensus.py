"""Consensus CSV with provenance: the agreed emotion and clues, and how they were reached."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from annotation.formats.common import (
    ExportRow,
    ParsedBuilder,
    csv_header,
    iter_csv,
    write_csv,
)
from annotation.ingest.records import ClipRecord, ParsedImport, ReferenceRecord
from core.vocabulary import Aspect

_ASPECTS = tuple(a.value for a in Aspect)
HEADER = ["name", "emotion", *_ASPECTS, "reasoning", "transcript", "method", "revision", "source_annotation_ids",
          "annotators", "accepted_by", "accepted_at"]


def detect(path: Path) -> bool:
    header = set(csv_header(path))
    return path.suffix.lower() == ".csv" and {"name", "emotion", "method", "source_annotation_ids"} <= header


def write(rows: Sequence[ExportRow], path: Path) -> list[Path]:
    def cells(row: ExportRow) -> list:
        p = row.provenance
        return [row.name, row.emotion or "", *(row.clues.get(a, "") for a in _ASPECTS), row.reasoning, row.transcript,
                p.get("method", ""), p.get("revision", ""), json.dumps(p.get("source_annotation_ids", [])),
                ";".join(p.get("annotators", [])), p.get("accepted_by", ""), p.get("accepted_at", "")]

    write_csv(path, HEADER, (cells(r) for r in rows))
    return [path]


def read(path: Path, media_dir: str | Path | None = None, *, source: str = "consensus-import") -> ParsedImport:
    builder = ParsedBuilder(media_dir)
    for number, row in iter_csv(path):
        name = row.get("name", "")
        if not name:
            builder.error(number, None, "no name")
            continue
        try:
            ids = json.loads(row.get("source_annotation_ids") or "[]")
        except ValueError:
            builder.error(number, name, "source_annotation_ids is not a JSON list")
            continue
        if not builder.add_clip(ClipRecord(name=name, emotion=row.get("emotion") or None,
                                                    transcript=row.get("transcript", "")), row=number):
            continue
        provenance = {"method": row.get("method", ""), "revision": row.get("revision", ""),
                      "source_annotation_ids": ids,
                      "annotators": [a for a in row.get("annotators", "").split(";") if a],
                      "accepted_by": row.get("accepted_by", ""), "accepted_at": row.get("accepted_at", "")}
        builder.parsed.references.append(ReferenceRecord(
            clip_name=name, source=source, emotion=row.get("emotion") or None,
            clues={a: row[a] for a in _ASPECTS if row.get(a)}, reasoning=row.get("reasoning", ""),
            meta={"provenance": provenance}))
    return builder.parsed
