"""Annotation rows: drafts, submissions, versioned edits and the annotator's own history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from core.vocabulary import AnnotationStatus
from db.models import Annotation, Clip, Consensus, utcnow


class StaleEdit(Exception):
    """The row changed since it was read; `current` is the row as it is now."""

    def __init__(self, current: Annotation | None, expected_version: int):
        self.current = current
        self.expected_version = expected_version
        now = current.version if current is not None else "deleted"
        super().__init__(
            f"This annotation was changed elsewhere (you edited version {expected_version}, "
            f"it is now version {now}). Your edit was not saved."
        )


EDITABLE_FIELDS = (
    "clues", "no_evidence", "emotion", "emotion_other", "rating", "confidence", "note",
    "status", "skip_reason", "seconds_spent", "prediction_id", "submitted_at",
)


def get_for(session: Session, *, clip_id: int, user_id: int) -> Annotation | None:
    return session.exec(select(Annotation).where(Annotation.clip_id == clip_id, Annotation.user_id == user_id)).first()


def get(session: Session, *, annotation_id: int) -> Annotation | None:
    return session.get(Annotation, annotation_id)


def create(session: Session, *, clip_id: int, user_id: int, values: dict[str, Any]) -> Annotation:
    annotation = Annotation(clip_id=clip_id, user_id=user_id, **_only_editable(values))
    session.add(annotation)
    session.flush()
    return annotation


def update_versioned(session: Session, *, annotation_id: int, expected_version: int,
                     values: dict[str, Any]) -> Annotation:
    """`UPDATE … WHERE id = :id AND version = :expected`; raise StaleEdit when no row matched."""
    changes = _only_editable(values)
    changes["updated_at"] = utcnow()
    changes["version"] = Annotation.version + 1
    updated = session.scalars(
        sa.update(Annotation)
        .where(Annotation.id == annotation_id, Annotation.version == expected_version)
        .values(**changes)
        .returning(Annotation),
        execution_options={"populate_existing": True, "synchronize_session": False},
    ).first()
    if updated is None:
        current = session.scalars(
            select(Annotation).where(Annotation.id == annotation_id).execution_options(populate_existing=True)
        ).first()
        # A detached copy: the caller rolls back, which would expire the loaded row.
        raise StaleEdit(Annotation.model_validate(current.model_dump()) if current else None, expected_version)
    return updated


def _only_editable(values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    return dict(values)


def list_for_user(session: Session, *, user_id: int, dataset_id: int | None = None,
                  statuses: tuple[str, ...] = (AnnotationStatus.submitted.value, AnnotationStatus.skipped.value),
                  limit: int = 500) -> list[tuple[Annotation, Clip]]:
    query = (
        select(Annotation, Clip)
        .join(Clip, Clip.id == Annotation.clip_id)
        .where(Annotation.user_id == user_id, Annotation.status.in_(statuses))
        .order_by(Annotation.updated_at.desc(), Annotation.id.desc())
        .limit(limit)
    )
    if dataset_id is not None:
        query = query.where(Clip.dataset_id == dataset_id)
    return list(session.exec(query).all())


def adjudicated_clip_ids(session: Session, *, clip_ids: list[int]) -> set[int]:
    """Clips among `clip_ids` that have a current consensus (their annotations are frozen)."""
    if not clip_ids:
        return set()
    rows = session.exec(
        select(Consensus.clip_id).where(Consensus.clip_id.in_(clip_ids), Consensus.is_current.is_(True))
    ).all()
    return set(rows)


def count_since(session: Session, *, user_id: int, since: datetime,
                status: str = AnnotationStatus.submitted.value) -> int:
    return int(session.exec(
        select(sa.func.count()).select_from(Annotation)
        .where(Annotation.user_id == user_id, Annotation.status == status, Annotation.submitted_at >= since)
    ).one())


def seconds_for_user(session: Session, *, user_id: int, limit: int = 500) -> list[float]:
    """Seconds spent on the user's latest submitted clips."""
    return list(session.exec(
        select(Annotation.seconds_spent)
        .where(Annotation.user_id == user_id, Annotation.status == AnnotationStatus.submitted.value)
        .order_by(Annotation.submitted_at.desc())
        .limit(limit)
    ).all())
