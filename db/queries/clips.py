"""Datasets and clips: lookups, counts, filters, media results."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from core.vocabulary import AnnotationStatus, ClipStatus
from db.models import Annotation, Clip, Consensus, Dataset, utcnow
from db.queries.chunking import clips_by_ids


def list_datasets(session: Session) -> Sequence[Dataset]:
    return session.exec(select(Dataset).order_by(Dataset.name)).all()


def get_dataset(session: Session, *, dataset_id: int) -> Dataset | None:
    return session.get(Dataset, dataset_id)


def get_dataset_by_name(session: Session, *, name: str) -> Dataset | None:
    return session.exec(select(Dataset).where(Dataset.name == name)).first()


def create_dataset(session: Session, *, name: str, **fields: Any) -> Dataset:
    dataset = Dataset(name=name.strip(), **fields)
    session.add(dataset)
    session.flush()
    return dataset


def clip_names(session: Session, *, dataset_id: int) -> set[str]:
    return set(session.exec(select(Clip.name).where(Clip.dataset_id == dataset_id)).all())


def media_fingerprints(session: Session, *, dataset_id: int) -> list[tuple[int, int, str | None, str | None]]:
    """(id, size in bytes, content hash or None, source path) of the dataset's clips with media of known size."""
    rows = session.exec(select(Clip.id, Clip.size_bytes, Clip.content_hash, Clip.source_path)
                        .where(Clip.dataset_id == dataset_id, col(Clip.size_bytes).is_not(None)))
    return [(int(i), int(size), digest, source) for i, size, digest, source in rows.all()]


def set_content_hash(session: Session, *, clip_id: int, content_hash: str) -> None:
    session.execute(sa.update(Clip).where(Clip.id == clip_id).values(content_hash=content_hash)
                    .execution_options(synchronize_session=False))


def update_dataset(session: Session, *, dataset: Dataset, **fields: Any) -> Dataset:
    for name, value in fields.items():
        setattr(dataset, name, value)
    session.add(dataset)
    return dataset


def add_clips(session: Session, *, clips: Sequence[Clip]) -> list[int]:
    """Insert many clips with one flush (per-row flushes dominate large imports); their new ids."""
    session.add_all(clips)
    session.flush()
    return [int(clip.id) for clip in clips]


def clips_in_dataset(session: Session, *, dataset_id: int, clip_ids: Sequence[int]) -> Sequence[Clip]:
    wanted = sorted(set(clip_ids))
    out: list[Clip] = []
    for start in range(0, len(wanted), 5000):
        out.extend(session.exec(select(Clip).where(col(Clip.id).in_(wanted[start:start + 5000]),
                                                   Clip.dataset_id == dataset_id)).all())
    return out


def get_clip(session: Session, *, clip_id: int) -> Clip | None:
    return session.get(Clip, clip_id)


def _waiting(*, owner: str | None, stale_before: datetime | None, retry_errors: bool) -> Any:
    """Clips an ingest run may take: pending ones (errored ones too when asked), those `owner` held before
    (a resumed job takes its own back at once), and claims not renewed since `stale_before` (a dead run's)."""
    statuses = [ClipStatus.pending.value] + ([ClipStatus.error.value] if retry_errors else [])
    taken_over = [Clip.claimed_by == owner] if owner else []
    if stale_before is not None:
        taken_over.append(sa.or_(col(Clip.claimed_at).is_(None), col(Clip.claimed_at) < stale_before))
    condition = col(Clip.status).in_(statuses)
    if taken_over:
        condition = sa.or_(condition, sa.and_(Clip.status == ClipStatus.processing.value, sa.or_(*taken_over)))
    return condition


def clips_to_ingest(session: Session, *, dataset_id: int | None = None, clip_ids: list[int] | None = None,
                    owner: str | None = None, stale_before: datetime | None = None) -> Sequence[Clip]:
    """Clips whose media is waiting to be processed (see `claim_clip`); given ids may also be in error."""
    query = select(Clip).where(col(Clip.source_path).is_not(None),
                               _waiting(owner=owner, stale_before=stale_before, retry_errors=bool(clip_ids)))
    if dataset_id is not None:
        query = query.where(Clip.dataset_id == dataset_id)
    if not clip_ids:
        return session.exec(query.order_by(Clip.id)).all()
    return clips_by_ids(session, query, clip_ids)


def claim_clip(session: Session, *, clip_id: int, owner: str, stale_before: datetime,
               retry_errors: bool = False) -> Clip | None:
    """Take a waiting clip for ingest run `owner` (pending → processing) in one UPDATE; None when another run
    holds it or it is done. Of two runs racing for one clip exactly one wins, on SQLite and PostgreSQL."""
    claimed = session.execute(
        sa.update(Clip)
        .where(Clip.id == clip_id, _waiting(owner=owner, stale_before=stale_before, retry_errors=retry_errors))
        .values(status=ClipStatus.processing.value, claimed_by=owner, claimed_at=utcnow(), error=None)
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        return None
    return session.exec(select(Clip).where(Clip.id == clip_id).execution_options(populate_existing=True)).one()


def renew_claims(session: Session, *, clip_ids: Sequence[int], owner: str) -> None:
    """Keep `owner`'s claims alive while it works on them."""
    if clip_ids:
        session.execute(sa.update(Clip).where(col(Clip.id).in_(list(clip_ids)), Clip.claimed_by == owner,
                                              Clip.status == ClipStatus.processing.value)
                        .values(claimed_at=utcnow()).execution_options(synchronize_session=False))


def release_claims(session: Session, *, clip_ids: Sequence[int], owner: str) -> int:
    """Hand `owner`'s unfinished clips back (processing → pending); how many."""
    if not clip_ids:
        return 0
    released = session.execute(
        sa.update(Clip).where(col(Clip.id).in_(list(clip_ids)), Clip.claimed_by == owner,
                              Clip.status == ClipStatus.processing.value)
        .values(status=ClipStatus.pending.value, claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False))
    return int(released.rowcount or 0)


def claimed_clip(session: Session, *, clip_id: int, owner: str) -> Clip | None:
    """The clip while `owner` still holds it (locked for the update on PostgreSQL); None once it lost the claim."""
    clip = session.exec(select(Clip).where(Clip.id == clip_id).with_for_update()
                        .execution_options(populate_existing=True)).first()
    if clip is None or clip.status != ClipStatus.processing.value or clip.claimed_by != owner:
        return None
    return clip


def reset_errors(session: Session, *, dataset_id: int | None = None) -> int:
    """Clips in error become pending again (their media is retried by the next ingest); how many."""
    query = sa.update(Clip).where(Clip.status == ClipStatus.error.value, col(Clip.source_path).is_not(None))
    if dataset_id is not None:
        query = query.where(Clip.dataset_id == dataset_id)
    reset = session.execute(query.values(status=ClipStatus.pending.value, error=None)
                            .execution_options(synchronize_session=False))
    return int(reset.rowcount or 0)


def mark_ingested(session: Session, *, clip: Clip, media: Any) -> Clip:
    """Store a `annotation.ingest.media.MediaResult` on the clip and mark it ready."""
    info = media.probe
    clip.status = ClipStatus.ready.value
    clip.error = None
    clip.claimed_by = clip.claimed_at = None
    clip.content_hash = media.content_hash
    clip.size_bytes = media.size_bytes
    clip.video_path = media.video_path
    clip.audio_path = media.audio_path
    clip.thumbnail_path = media.thumbnail_path
    clip.frames_dir = media.frames_dir
    clip.peaks = media.peaks
    clip.duration = info.duration
    clip.fps = info.fps
    clip.width = info.width
    clip.height = info.height
    clip.has_video = info.has_video
    clip.has_audio = info.has_audio
    clip.meta = {**clip.meta, "frame_times": media.frame_times,
                 "source_codecs": {"video": info.video_codec, "audio": info.audio_codec}}
    clip.ingested_at = utcnow()
    session.add(clip)
    return clip


def mark_failed(session: Session, *, clip: Clip, reason: str) -> Clip:
    clip.status = ClipStatus.error.value
    clip.error = reason
    clip.claimed_by = clip.claimed_at = None
    session.add(clip)
    return clip


def dataset_counts(session: Session, *, dataset_id: int) -> dict[str, int]:
    """Clips by media status, submitted annotations, clips with consensus."""
    by_status = dict(session.exec(
        select(Clip.status, func.count()).where(Clip.dataset_id == dataset_id).group_by(Clip.status)).all())
    submitted = session.exec(
        select(func.count()).select_from(Annotation).join(Clip, Clip.id == Annotation.clip_id)
        .where(Clip.dataset_id == dataset_id, Annotation.status == AnnotationStatus.submitted.value)).one()
    with_consensus = session.exec(
        select(func.count(sa.distinct(Consensus.clip_id))).join(Clip, Clip.id == Consensus.clip_id)
        .where(Clip.dataset_id == dataset_id, Consensus.is_current == True)).one()  # noqa: E712
    return {
        "clips": sum(by_status.values()),
        "ready": by_status.get(ClipStatus.ready.value, 0),
        # Waiting for media: pending, and being processed now (also counted on their own).
        "pending": by_status.get(ClipStatus.pending.value, 0) + by_status.get(ClipStatus.processing.value, 0),
        "processing": by_status.get(ClipStatus.processing.value, 0),
        "errors": by_status.get(ClipStatus.error.value, 0),
        "annotations": int(submitted),
        "consensus": int(with_consensus),
    }


def annotation_count(status: str = AnnotationStatus.submitted.value) -> Any:
    """A clip's annotations in `status`, correlated to Clip: a probe of ix_annotation_clip_status per clip, so
    a page walks clips in id order and stops at its limit."""
    return (select(func.count()).select_from(Annotation)
            .where(Annotation.clip_id == Clip.id, Annotation.status == status)
            .correlate(Clip).scalar_subquery())


def has_current_consensus() -> Any:
    """Whether a clip has a current consensus, correlated to Clip (ix_consensus_clip_current)."""
    return (sa.exists().where(Consensus.clip_id == Clip.id, Consensus.is_current == True)  # noqa: E712
            .correlate(Clip))


def annotation_counts(dataset_id: int) -> Any:
    """A subquery (clip_id, submitted, skipped) over the dataset's annotated clips: one grouped pass over
    their annotations, cheaper than per-clip probes when every clip is counted (coverage summary)."""
    submitted = sa.func.sum(sa.case((Annotation.status == AnnotationStatus.submitted.value, 1), else_=0))
    skipped = sa.func.sum(sa.case((Annotation.status == AnnotationStatus.skipped.value, 1), else_=0))
    return (select(Annotation.clip_id.label("clip_id"), submitted.label("submitted"), skipped.label("skipped"))
            .join(Clip, Clip.id == Annotation.clip_id).where(Clip.dataset_id == dataset_id)
            .group_by(Annotation.clip_id).subquery("annotation_counts"))


def consensus_clips(dataset_id: int) -> Any:
    """A subquery (clip_id) of the dataset's clips with a current consensus."""
    return (select(Consensus.clip_id.label("clip_id")).join(Clip, Clip.id == Consensus.clip_id)
            .where(Clip.dataset_id == dataset_id, Consensus.is_current == True)  # noqa: E712
            .distinct().subquery("consensus_clips"))


def search_clips(session: Session, *, dataset_id: int, status: str | None = None, text: str = "",
                 has_video: bool | None = None, min_annotations: int | None = None,
                 max_annotations: int | None = None, has_consensus: bool | None = None,
                 limit: int = 200, offset: int = 0) -> tuple[Sequence[Clip], int]:
    """A page of clips matching the filters, and how many match in all.

    The annotation count is of submitted annotations (drafts and skips do not count); every filter is
    SQL, so a page costs the same at 100k clips as at 100.
    """
    query = select(Clip).where(Clip.dataset_id == dataset_id)
    if min_annotations is not None or max_annotations is not None:
        submitted = annotation_count()
        if min_annotations is not None and min_annotations > 0:
            query = query.where(submitted >= min_annotations)
        if max_annotations is not None:
            query = query.where(submitted <= max_annotations)
    if has_consensus is not None:
        query = query.where(has_current_consensus() if has_consensus else ~has_current_consensus())
    if status:
        query = query.where(Clip.status == status)
    if has_video is not None:
        query = query.where(Clip.has_video == has_video)
    if text.strip():
        pattern = f"%{text.strip()}%"
        query = query.where(sa.or_(col(Clip.name).ilike(pattern), col(Clip.transcript).ilike(pattern)))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(Clip.id).offset(offset).limit(limit)).all()
    return rows, int(total)


def annotation_summary(session: Session, *, clip_ids: Sequence[int]) -> dict[int, tuple[int, bool]]:
    """For a page of clips: (submitted annotations, has a current consensus) by clip id."""
    if not clip_ids:
        return {}
    ids = list(clip_ids)
    submitted = dict(session.exec(
        select(Annotation.clip_id, func.count()).where(col(Annotation.clip_id).in_(ids),
                                                      Annotation.status == AnnotationStatus.submitted.value)
        .group_by(Annotation.clip_id)).all())
    agreed = set(session.exec(select(Consensus.clip_id).where(col(Consensus.clip_id).in_(ids),
                                                              Consensus.is_current == True)).all())  # noqa: E712
    return {clip_id: (int(submitted.get(clip_id, 0)), clip_id in agreed) for clip_id in ids}
