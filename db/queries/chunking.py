"""Long `IN (…)` lists, split below every database's bound-parameter limit.

Stock SQLite binds at most 32,766 variables per statement (999 before 3.32) and
PostgreSQL's wire protocol 65,535; a query over every clip of a large dataset
passes more. Queries taking a caller's id list run once per chunk instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from sqlmodel import Session, col
from sqlmodel.sql.expression import Select

from db.models import Clip

T = TypeVar("T")

# Below SQLite's old 999 limit too, leaving room for a statement's other parameters.
IN_CHUNK = 900


def in_chunks(values: Iterable[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    """The distinct values, sorted, in lists of at most `size` (none for no values)."""
    distinct = sorted(set(values))
    for start in range(0, len(distinct), size):
        yield distinct[start:start + size]


def clips_by_ids(session: Session, query: Select, clip_ids: Iterable[int]) -> list[Clip]:
    """`query`'s clips among `clip_ids`, in id order, one statement per chunk."""
    out: list[Clip] = []
    for chunk in in_chunks(clip_ids):  # sorted chunks, so the clips stay in id order
        out.extend(session.exec(query.where(col(Clip.id).in_(chunk)).order_by(Clip.id)).all())
    return out
