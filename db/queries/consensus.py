"""Consensus rows and the annotation data adjudication reads.

Consensus is versioned: a new decision adds a revision and retires the
current one; nothing is overwritten. The writer states the `version` of the
current row it saw (versions grow with every decision on a clip); if someone
else decided in the meantime, the write is refused with `ConsensusConflict`
instead of silently replacing their work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.vocabulary import AnnotationStatus
from db.models import Annotation, Clip, Consensus, Dataset, User, utcnow


class ConsensusConflict(RuntimeError):
    """The clip's consensus changed since the caller read it."""


def current_consensus(session: Session, *, clip_id: int) -> Consensus | None:
    return session.exec(
        select(Consensus).where(Consensus.clip_id == clip_id, Consensus.is_current == sa.true())
    ).first()


def consensus_history(session: Session, *, clip_id: int) -> list[Consensus]:
    """Every revision of the clip's consensus, newest first."""
    return list(session.exec(
        select(Consensus).where(Consensus.clip_id == clip_id).order_by(col(Consensus.revision).desc())
    ))


def add_consensus_revision(
    session: Session,
    *,
    clip_id: int,
    expected_version: int | None,
    emotion: str | None,
    posterior: dict[str, float],
    emotion_words: Sequence[str] = (),
    clues: dict[str, str],
    rating_median: float | None,
    rating_spread: float | None,
    method: str,
    source_annotation_ids: Sequence[int],
    accepted_by_id: int | None,
    auto_accepted: bool = False,
    note: str = "",
) -> Consensus:
    """Store a new current revision; `expected_version` is the current row's version the caller saw
    (None when it saw no consensus). Raises ConsensusConflict when that is stale."""
    current = current_consensus(session, clip_id=clip_id)
    if (current is None) != (expected_version is None) or (current and current.version != expected_version):
        raise ConsensusConflict(
            f"the consensus of clip {clip_id} changed since it was opened"
            f" (now revision {current.revision if current else 0}); reload and decide again"
        )
    revision, version = 1, 1
    if current is not None:
        retired = session.execute(
            sa.update(Consensus)
            .where(Consensus.id == current.id, Consensus.version == expected_version,
                   Consensus.is_current == sa.true())
            .values(is_current=False)  # the retired row keeps its version: stale for good
            .execution_options(synchronize_session=False)
        )
        if retired.rowcount != 1:
            raise ConsensusConflict(f"the consensus of clip {clip_id} was changed by someone else; reload")
        session.expire(current)
        # The new row's version continues the clip's count, so a version seen before is stale for good.
        revision, version = current.revision + 1, expected_version + 1
    else:
        latest = session.exec(select(sa.func.max(Consensus.revision)).where(Consensus.clip_id == clip_id)).one()
        revision = (latest or 0) + 1
    row = Consensus(
        clip_id=clip_id, revision=revision, is_current=True, emotion=emotion, emotion_words=list(emotion_words),
        posterior=dict(posterior),
        clues=dict(clues), rating_median=rating_median, rating_spread=rating_spread, method=method,
        source_annotation_ids=list(source_annotation_ids), auto_accepted=auto_accepted,
        accepted_by_id=accepted_by_id, accepted_at=utcnow(), note=note, version=version,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as error:  # a concurrent writer took this revision number
        raise ConsensusConflict(f"the consensus of clip {clip_id} was changed by someone else; reload") from error
    return row


def remove_revision(session: Session, *, consensus: Consensus) -> Consensus | None:
    """Delete a clip's current revision and make the one before it (if any) current again; the restored row's
    version continues the clip's count, so whoever saw the removed revision is stale. Returns the restored row.
    Raises ConsensusConflict when `consensus` is no longer the clip's newest current revision."""
    newest = session.exec(select(sa.func.max(Consensus.revision)).where(Consensus.clip_id == consensus.clip_id)).one()
    gone = session.execute(
        sa.delete(Consensus)
        .where(Consensus.id == consensus.id, Consensus.version == consensus.version, Consensus.is_current == sa.true(),
               Consensus.revision == newest)
        .execution_options(synchronize_session=False)
    )
    if gone.rowcount != 1:
        raise ConsensusConflict(f"the consensus of clip {consensus.clip_id} changed since it was accepted")
    session.expunge(consensus)
    previous = session.exec(
        select(Consensus).where(Consensus.clip_id == consensus.clip_id).order_by(col(Consensus.revision).desc())
    ).first()
    if previous is not None:
        previous.is_current = True
        previous.version = consensus.version + 1
        session.add(previous)
        session.flush()
    return previous


FINISHED = (AnnotationStatus.submitted.value, AnnotationStatus.skipped.value)


def clip_annotations(session: Session, *, clip_id: int, statuses: Sequence[str] = FINISHED) -> list[Annotation]:
    return list(session.exec(
        select(Annotation)
        .where(Annotation.clip_id == clip_id, col(Annotation.status).in_(list(statuses)))
        .order_by(Annotation.id)
    ))


def dataset_annotations(
    session: Session,
    *,
    dataset_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
    user_ids: Sequence[int] | None = None,
    statuses: Sequence[str] = FINISHED,
) -> list[Annotation]:
    """A dataset's finished annotations, optionally within a submission window and for some annotators."""
    query = (
        select(Annotation).join(Clip, Clip.id == Annotation.clip_id)
        .where(Clip.dataset_id == dataset_id, col(Annotation.status).in_(list(statuses)))
    )
    stamp = sa.func.coalesce(Annotation.submitted_at, Annotation.updated_at)
    if since is not None:
        query = query.where(stamp >= since)
    if until is not None:
        query = query.where(stamp < until)
    if user_ids:
        query = query.where(col(Annotation.user_id).in_(list(user_ids)))
    return list(session.exec(query.order_by(Annotation.clip_id, Annotation.id)))


def dataset_annotator_ids(session: Session, *, dataset_id: int, statuses: Sequence[str] = FINISHED) -> list[int]:
    """Everyone with a finished annotation in the dataset, by id: per user, one probe of their annotations
    that stops at the first in the dataset (a DISTINCT would read all 300k annotations of a 100k-clip dataset)."""
    finished = (
        sa.select(1).select_from(Annotation).join(Clip, Clip.id == Annotation.clip_id)
        .where(Annotation.user_id == User.id, Clip.dataset_id == dataset_id,
               col(Annotation.status).in_(list(statuses)))
        .exists()
    )
    return list(session.execute(sa.select(User.id).where(finished).order_by(User.id)).scalars())


def data_version(session: Session, *, dataset_id: int) -> tuple:
    """A value that changes whenever a finished annotation, a consensus or the dataset's queue settings change:
    the latest submission or skip (`submitted_at`, indexed), the newest consensus row, the dataset's
    `queue_version` and overlap. Three index lookups, so a cache can ask it on every read. An edit of an
    already submitted annotation does not move it (caches keyed on it also expire by age)."""
    latest = session.execute(sa.select(sa.func.max(Annotation.submitted_at))).scalar()
    newest = session.execute(sa.select(sa.func.max(Consensus.id))).scalar()
    dataset = session.execute(sa.select(Dataset.queue_version, Dataset.overlap).where(Dataset.id == dataset_id)).first()
    return (str(latest), newest, tuple(dataset) if dataset else None)


def dataset_consensus(session: Session, *, dataset_id: int) -> list[Consensus]:
    """Current consensus rows of a dataset."""
    return list(session.exec(
        select(Consensus).join(Clip, Clip.id == Consensus.clip_id)
        .where(Clip.dataset_id == dataset_id, Consensus.is_current == sa.true())
    ))


def submitted_votes(session: Session, *, dataset_id: int) -> list[tuple]:
    """(annotation id, clip id, user id, emotion, emotion_other, updated_at) of every submitted annotation
    of the dataset, by clip: plain rows, no objects (a dataset has hundreds of thousands). `updated_at` comes
    as the database returns it (a key naming the row's content, not converted to a time: 300k conversions
    took seconds)."""
    return list(session.execute(
        sa.select(Annotation.id, Annotation.clip_id, Annotation.user_id, Annotation.emotion,
                  Annotation.emotion_other, sa.type_coerce(Annotation.updated_at, sa.types.NullType()))
        .join(Clip, Clip.id == Annotation.clip_id)
        .where(Clip.dataset_id == dataset_id, Annotation.status == AnnotationStatus.submitted.value)
        .order_by(Annotation.clip_id, Annotation.id)
    ).tuples())


def current_sources(session: Session, *, dataset_id: int) -> dict[int, set[int]]:
    """Per clip with a current consensus, the annotation ids it was decided from."""
    rows = session.execute(
        sa.select(Consensus.clip_id, Consensus.source_annotation_ids).join(Clip, Clip.id == Consensus.clip_id)
        .where(Clip.dataset_id == dataset_id, Consensus.is_current == sa.true()))
    return {clip_id: set(ids or []) for clip_id, ids in rows}


def clip_names_and_overlaps(session: Session, *, dataset_id: int) -> dict[int, tuple[str, int | None]]:
    """Every clip of the dataset: (name, overlap override)."""
    rows = session.execute(sa.select(Clip.id, Clip.name, Clip.overlap_override).where(Clip.dataset_id == dataset_id))
    return {clip_id: (name, override) for clip_id, name, override in rows}


def clips_by_id(session: Session, *, clip_ids: Iterable[int]) -> dict[int, Clip]:
    ids = sorted(set(clip_ids))
    out: dict[int, Clip] = {}
    for start in range(0, len(ids), 5000):
        out.update({c.id: c for c in session.exec(select(Clip).where(col(Clip.id).in_(ids[start:start + 5000])))})
    return out


# --- auditing stored clues -----------------------------------------------------

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
