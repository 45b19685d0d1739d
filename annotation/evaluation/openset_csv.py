"""Read and write the MER challenges' open-vocabulary files: the `name,openset` CSV and the
`filenames`/`fileitems` npz.

The gold labels come as a CSV whose `openset` cell is a Python list literal (`['happy', 'relieved']`);
participants' answers often arrive as plain comma-separated words, so both are accepted. A file with a few
broken rows should still say which rows are broken rather than fail as a whole, so bad rows become errors
with their line numbers and the good rows are kept; the caller decides whether errors are fatal.

Cells are parsed with `ast.literal_eval` (never `eval`), length-capped, and must give a list of strings.
The official reader instead strips the brackets and splits on quotes and commas; for every word in the
emotion-wheel tables (none contains a quote or comma) the two give the same words.

The npz is written without pickles (the names and the JSON-encoded word lists are plain unicode arrays),
and read with `allow_pickle=False`, so a crafted file cannot run code. The challenges' own npz files
hold unicode arrays as well and load the same way.
"""

from __future__ import annotations

import ast
import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from annotation.csv_cells import csv_text, restore_cell

MAX_CELL_CHARS = 10_000  # far above any real answer; keeps literal_eval away from pathological input
_QUOTES = ("'", '"')


class OpensetParseError(ValueError):
    """A cell that is neither a list of strings nor comma-separated words."""


@dataclass(frozen=True)
class RowError:
    """One unusable row: its CSV line (1-based, the line the row ends on; the header is line 1) or its
    npz item index, and why."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class OpensetFile:
    """The good rows (name -> words, file order) and the errors of the bad ones."""

    rows: dict[str, list[str]] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)


def parse_openset(cell: object) -> list[str]:
    """Words of one openset cell: a list literal, comma-separated words, or empty (no words)."""
    if cell is None:
        return []
    if not isinstance(cell, str):
        raise OpensetParseError(f"expected text, got {type(cell).__name__}")
    text = cell.strip()
    if len(text) > MAX_CELL_CHARS:
        raise OpensetParseError(f"cell longer than {MAX_CELL_CHARS} characters")
    if not text:
        return []
    if text.startswith("["):
        return _parse_list(text)
    if text[0] in _QUOTES:
        return _parse_list(f"[{text}]")  # 'happy', 'sad': a list literal without its brackets
    return _split_words(text)


def _parse_list(text: str) -> list[str]:
    if not text.endswith("]"):
        raise OpensetParseError("a list must end with ]")
    if not any(quote in text for quote in _QUOTES):
        return _split_words(text[1:-1])  # [happy, sad]: unquoted words
    try:
        value = ast.literal_eval(text)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError) as exc:
        raise OpensetParseError(f"not a list literal ({type(exc).__name__})") from None
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise OpensetParseError("a list must hold only strings")
    return [item.strip() for item in value if item.strip()]


def _split_words(text: str) -> list[str]:
    return [word.strip() for word in text.split(",") if word.strip()]


def format_openset(words: Sequence[str]) -> str:
    """The challenges' cell form, `['happy', 'relieved']`; parse_openset reads it back exactly."""
    return repr([str(word) for word in words])


def read_openset_csv(path: Path | str) -> OpensetFile:
    """Rows of a `name,openset` CSV; a missing column or an unreadable file raises, bad rows are collected."""
    text = Path(path).read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = reader.fieldnames or []
    missing = [column for column in ("name", "openset") if column not in columns]
    if missing:
        raise OpensetParseError(f"{path}: missing column(s) {', '.join(missing)} (found {', '.join(columns)})")
    out = OpensetFile()
    for record in reader:
        where = f"line {reader.line_num}"
        name = restore_cell((record.get("name") or "").strip())
        if None in record:
            out.errors.append(RowError(where, "more cells than columns (quote the openset cell)"))
            continue
        _add(out, where=where, name=name, cell=record.get("openset"))
    return out


def _add(out: OpensetFile, *, where: str, name: str, cell: object) -> None:
    if not name:
        out.errors.append(RowError(where, "empty name"))
        return
    if name in out.rows:
        out.errors.append(RowError(where, f"duplicate name {name!r} (the first row is kept)"))
        return
    try:
        out.rows[name] = parse_openset(cell)
    except OpensetParseError as exc:
        out.errors.append(RowError(where, f"{name}: {exc}"))


def write_openset_csv(path: Path | str, rows: Mapping[str, Sequence[str]]) -> None:
    """Write `name,openset` with list-literal cells, the form the challenges publish (formula names neutralised)."""
    Path(path).write_text(csv_text(["name", "openset"], ([name, format_openset(words)] for name, words in rows.items())),
                          encoding="utf-8", newline="")


def write_openset_npz(path: Path | str, rows: Mapping[str, Sequence[str]]) -> None:
    """Write `filenames` and `fileitems` (JSON lists of words) as unicode arrays: no pickles."""
    names = np.asarray([str(name) for name in rows], dtype=np.str_)
    items = np.asarray([json.dumps([str(w) for w in words], ensure_ascii=False) for words in rows.values()],
                       dtype=np.str_)
    with Path(path).open("wb") as handle:
        np.savez_compressed(handle, filenames=names, fileitems=items)


def read_openset_npz(path: Path | str) -> OpensetFile:
    """Rows of a `filenames`/`fileitems` npz, loaded with allow_pickle=False; bad items are collected."""
    try:
        with np.load(Path(path), allow_pickle=False) as npz:
            if not {"filenames", "fileitems"} <= set(npz.files):
                raise OpensetParseError(f"{path}: needs arrays filenames and fileitems (found {npz.files})")
            names, items = npz["filenames"], npz["fileitems"]
    except ValueError as exc:
        if isinstance(exc, OpensetParseError):
            raise
        raise OpensetParseError(f"{path}: not a pickle-free npz ({exc})") from None
    if names.ndim != 1 or items.ndim != 1 or len(names) != len(items):
        raise OpensetParseError(f"{path}: filenames and fileitems must be 1-D and of equal length")
    if names.dtype.kind != "U" or items.dtype.kind != "U":
        raise OpensetParseError(f"{path}: filenames and fileitems must be text arrays")
    out = OpensetFile()
    for index, (name, item) in enumerate(zip(names.tolist(), items.tolist(), strict=True)):
        _add(out, where=f"item {index}", name=name.strip(), cell=item)
    return out


def read_openset_file(path: Path | str) -> OpensetFile:
    """A CSV or an npz, chosen by the file suffix."""
    return read_openset_npz(path) if Path(path).suffix.lower() == ".npz" else read_openset_csv(path)
