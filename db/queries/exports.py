"""What the research-format exporters read: a dataset's consensus, predictions and submitted annotations."""

from __future__ import annotations

from collections.abc import Iterator

from sqlmodel import Session, select

from core.vocabulary import AnnotationStatus
from db.models import Annotation, Clip, Consensus, Prediction, User


def usernames(session: Session) -> dict[int, str]:
    return {u.id: u.username for u in session.exec(select(User))}


def annotation_authors(session: Session, *, dataset_id: int) -> dict[int, int]:
    """Annotation id -> user id for every annotation of the dataset."""
    return dict(session.exec(select(Annotation.id, Annotation.user_id)
                             .join(Clip, Clip.id == Annotation.clip_id).where(Clip.dataset_id == dataset_id)).all())


def clips_with_consensus(session: Session, *, dataset_id: int) -> Iterator[tuple[Clip, Consensus]]:
    query = (select(Clip, Consensus).join(Consensus, Consensus.clip_id == Clip.id)
             .where(Clip.dataset_id == dataset_id, Consensus.is_current).order_by(Clip.name))
    yield from session.exec(query)


def clips_with_predictions(session: Session, *, dataset_id: int, version_id: int) -> Iterator[tuple[Clip, Prediction]]:
    query = (select(Clip, Prediction).join(Prediction, Prediction.clip_id == Clip.id)
             .where(Clip.dataset_id == dataset_id, Prediction.model_version_id == version_id).order_by(Clip.name))
    yield from session.exec(query)


def clips_with_submissions(session: Session, *, dataset_id: int) -> Iterator[tuple[Clip, Annotation, User]]:
    query = (select(Clip, Annotation, User).join(Annotation, Annotation.clip_id == Clip.id)
             .join(User, User.id == Annotation.user_id)
             .where(Clip.dataset_id == dataset_id, Annotation.status == AnnotationStatus.submitted.value)
             .order_by(Clip.name, User.username))
    yield from session.exec(query)
