"""Annotation rows: drafts, submissions, versioned edits and the annotator's own history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from core.vocabulary import AnnotationStatus
from db.models import Annotation, Clip, Consensus, utcnow
from db.queries import locking
from db.queries.chunking import in_chunks
from db.queries.upsert import insert_for

EDITABLE_FIELDS = (
    "clues", "no_evidence", "emotion", "emotion_other", "emotion_words", "rating", "confidence", "note",
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
    """Change the editable fields if the row is still at `expected_version`; raise StaleEdit otherwise."""
    return locking.update_versioned(session, Annotation, annotation_id, expected_version=expected_version,
                                    changes=_only_editable(values))


def update_draft(session: Session, *, clip_id: int, user_id: int, values: dict[str, Any]) -> Annotation | None:
    """One UPDATE: the user's *draft* of the clip takes `values` (a submission too, when they say so).

    None when there is no draft: no row yet, or the row is already submitted or skipped.
    """
    changes = {**_only_editable(values), "version": Annotation.version + 1, "updated_at": utcnow()}
    return session.scalars(
        sa.update(Annotation)
        .where(Annotation.clip_id == clip_id, Annotation.user_id == user_id,
               Annotation.status == AnnotationStatus.draft.value)
        .values(**changes)
        .returning(Annotation),
        execution_options={"populate_existing": True, "synchronize_session": False},
    ).first()


def upsert_draft(session: Session, *, clip_id: int, user_id: int, values: dict[str, Any]) -> Annotation | None:
    """One INSERT ... ON CONFLICT: create the user's annotation of the clip, or update it while it is a draft.

    `prediction_id` is kept from the first insert. None when a final (submitted or skipped) row exists.
    """
    row = Annotation(clip_id=clip_id, user_id=user_id, **_only_editable(values)).model_dump(exclude={"id"})
    statement = insert_for(session, Annotation).values(row)  # a dict, not a list: cached compiled, not rebuilt per call
    changes = {name: statement.excluded[name] for name in values if name != "prediction_id"}
    changes.update(version=Annotation.__table__.c.version + 1, updated_at=statement.excluded.updated_at)
    statement = statement.on_conflict_do_update(
        index_elements=["clip_id", "user_id"], set_=changes,
        where=Annotation.__table__.c.status == AnnotationStatus.draft.value)
    return session.scalars(statement.returning(Annotation), execution_options={"populate_existing": True}).first()


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
    found: set[int] = set()
    for chunk in in_chunks(clip_ids):
        found.update(session.exec(
            select(Consensus.clip_id).where(Consensus.clip_id.in_(chunk), Consensus.is_current.is_(True))).all())
    return found


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


def own_submissions_with_consensus(session: Session, *, user_id: int, dataset_id: int | None = None,
                                   limit: int = 500) -> list[tuple[Annotation, Clip, Consensus]]:
    """The user's own submitted annotations on clips with a current consensus, with that consensus; newest first."""
    query = (
        select(Annotation, Clip, Consensus)
        .join(Clip, Clip.id == Annotation.clip_id)
        .join(Consensus, (Consensus.clip_id == Annotation.clip_id) & (Consensus.is_current == True))  # noqa: E712
        .where(Annotation.user_id == user_id, Annotation.status == AnnotationStatus.submitted.value)
        .order_by(Consensus.accepted_at.desc(), Annotation.id.desc())
        .limit(limit)
    )
    if dataset_id is not None:
        query = query.where(Clip.dataset_id == dataset_id)
    return list(session.exec(query).all())
