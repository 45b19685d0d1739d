"""CSV that is safe to open in a spreadsheet: every CSV ClueLab hands out (exports, downloads) goes through here."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

# Cells starting with these run as formulas in spreadsheet programs.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """Prefix `'` to text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def restore_cell(value: str) -> str:
    """Undo `neutralise_cell` so a file ClueLab wrote reads back unchanged."""
    if value.startswith("'") and value[1:2] in {"=", "+", "-", "@", "\t", "\r"}:
        return value[1:]
    return value


def csv_text(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text with formula cells neutralised: what every CSV ClueLab hands out (files, downloads) is made of."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow([neutralise_cell(h) for h in header])
    for row in rows:
        writer.writerow([neutralise_cell("" if v is None else v) for v in row])
    return buffer.getvalue()


def dataframe_csv(frame: Any) -> bytes:
    """A table (pandas DataFrame) as a UTF-8 CSV download (BOM for spreadsheet programs), formulas neutralised."""
    rows = ([None if _missing(v) else v for v in row] for row in frame.itertuples(index=False, name=None))
    return ("\ufeff" + csv_text([str(c) for c in frame.columns], rows)).encode("utf-8")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)  # NaN, as pandas writes it: empty
