"""MER2025/2026 open-vocabulary files: the `name,openset` CSV and the `filenames`/`fileitems` npz.

Reading and writing the cells is `annotation.evaluation.openset_csv` (list literals parsed with
`ast.literal_eval`, npz without pickles); this module turns them into clips plus a named system's
word sets (`reference:<source>`, default `openset-gt`) and writes any source's word sets back.
Rows of a source that hold no words are not written: an empty gold set is skipped by the EW metric
anyway, and an empty prediction would read as a miss.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from annotation.evaluation.openset_csv import (
    OpensetFile,
    OpensetParseError,
    read_openset_csv,
    read_openset_npz,
    write_openset_csv,
    write_openset_npz,
)
from annotation.formats.common import ExportRow, ParsedBuilder, csv_header, split_from_path
from annotation.ingest.records import ClipRecord, ParsedImport, ReferenceRecord, RowError

DEFAULT_SOURCE = "openset-gt"
_LINE = re.compile(r"line (\d+)")


def detect_csv(path: Path) -> bool:
    header = set(csv_header(path))
    return path.suffix.lower() == ".csv" and {"name", "openset"} <= header


def detect_npz(path: Path) -> bool:
    if path.suffix.lower() != ".npz" or not path.is_file():
        return False
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {"filenames", "fileitems"} <= set(npz.files)
    except (OSError, ValueError):
        return False


def _parsed(table: OpensetFile, path: Path, media_dir: str | Path | None, source: str) -> ParsedImport:
    builder = ParsedBuilder(media_dir)
    split = split_from_path(path)
    for error in table.errors:
        line = _LINE.match(error.where)
        builder.error(int(line.group(1)) if line else None, None, f"{error.where}: {error.message}")
    for index, (name, words) in enumerate(table.rows.items()):
        row = index + 2  # the header is row 1 (npz items count the same way)
        if not words:
            builder.error(row, name, "no emotion words")
            continue
        if builder.add_clip(ClipRecord(name=name, meta={"split": split} if split else {}), row=row):
            builder.parsed.references.append(ReferenceRecord(clip_name=name, source=source,
                                                             emotion_words=list(words)))
    return builder.parsed


def read_csv(path: Path, media_dir: str | Path | None = None, *, source: str = DEFAULT_SOURCE) -> ParsedImport:
    try:
        table = read_openset_csv(path)
    except (OpensetParseError, UnicodeDecodeError) as error:
        return ParsedImport(errors=[RowError(reason=str(error))])
    return _parsed(table, path, media_dir, source)


def read_npz(path: Path, media_dir: str | Path | None = None, *, source: str = DEFAULT_SOURCE) -> ParsedImport:
    try:
        table = read_openset_npz(path)
    except OpensetParseError as error:
        return ParsedImport(errors=[RowError(reason=str(error))])
    return _parsed(table, path, media_dir, source)


def _word_rows(rows: Sequence[ExportRow]) -> dict[str, list[str]]:
    return {row.name: list(row.emotion_words) for row in rows if row.emotion_words}


def write_csv(rows: Sequence[ExportRow], path: Path) -> list[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_openset_csv(path, _word_rows(rows))
    return [path]


def write_npz(rows: Sequence[ExportRow], path: Path) -> list[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_openset_npz(path, _word_rows(rows))
    return [path]
