"""Reads for auditing stored consensus clues: the consensus rows and their source annotations' clues."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, col, select

from db.models import Annotation, Clip, Consensus

_CHUNK = 900  # below SQLite's bound-parameter limit


def consensus_rows(session: Session, *, dataset_id: int | None = None, current_only: bool = False) -> list[Consensus]:
    """Stored consensus revisions (every revision unless `current_only`), by clip and revision."""
    query = select(Consensus)
    if dataset_id is not None:
        query = query.join(Clip, Clip.id == Consensus.clip_id).where(Clip.dataset_id == dataset_id)
    if current_only:
        query = query.where(Consensus.is_current == sa.true())
    return list(session.exec(query.order_by(Consensus.clip_id, Consensus.revision)))


def annotation_clues(session: Session, *, annotation_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """Clues of the given annotations by annotation id; ids that do not exist are left out."""
    ids = sorted(set(annotation_ids))
    out: dict[int, dict[str, str]] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = session.exec(
            select(Annotation.id, Annotation.clues).where(col(Annotation.id).in_(ids[start:start + _CHUNK]))
        )
        out.update({annotation_id: dict(clues or {}) for annotation_id, clues in rows})
    return out
