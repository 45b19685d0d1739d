"""Datasets and clips: lookups, counts, filters, media results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from core.vocabulary import AnnotationStatus, ClipStatus
from db.models import Annotation, Clip, Consensus, Dataset, utcnow


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


def content_hashes(session: Session, *, dataset_id: int) -> set[str]:
    rows = session.exec(select(Clip.content_hash).where(Clip.dataset_id == dataset_id, col(Clip.content_hash).is_not(None)))
    return set(rows.all())  # type: ignore[arg-type]


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


def clips_to_ingest(session: Session, *, dataset_id: int | None = None, clip_ids: list[int] | None = None) -> Sequence[Clip]:
    """Clips whose media is not processed yet (pending, or failed earlier and retried by id)."""
    query = select(Clip).where(col(Clip.source_path).is_not(None))
    if clip_ids:
        query = query.where(col(Clip.id).in_(clip_ids), Clip.status != ClipStatus.ready.value)
    else:
        query = query.where(Clip.status == ClipStatus.pending.value)
    if dataset_id is not None:
        query = query.where(Clip.dataset_id == dataset_id)
    return session.exec(query.order_by(Clip.id)).all()


def mark_ingested(session: Session, *, clip: Clip, media: Any) -> Clip:
    """Store a `annotation.ingest.media.MediaResult` on the clip and mark it ready."""
    info = media.probe
    clip.status = ClipStatus.ready.value
    clip.error = None
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
        "pending": by_status.get(ClipStatus.pending.value, 0),
        "errors": by_status.get(ClipStatus.error.value, 0),
        "annotations": int(submitted),
        "consensus": int(with_consensus),
    }


def search_clips(session: Session, *, dataset_id: int, status: str | None = None, text: str = "",
                 has_video: bool | None = None, limit: int = 200, offset: int = 0) -> tuple[Sequence[Clip], int]:
    """A page of clips matching the filters, and how many match in all."""
    query = select(Clip).where(Clip.dataset_id == dataset_id)
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
