"""Rows for consensus and adjudication tests, inserted directly with SQLModel."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from core.vocabulary import AnnotationStatus
from db.models import Annotation, Clip, Dataset, ModelVersion, Prediction, User, utcnow


def make_user(session: Session, username: str, *roles: str) -> User:
    user = User(username=username, password_hash="not-a-real-hash", roles=list(roles))
    session.add(user)
    session.flush()
    return user


def make_dataset(session: Session, name: str = "ds", **fields) -> Dataset:
    dataset = Dataset(name=name, **fields)
    session.add(dataset)
    session.flush()
    return dataset


def make_clip(session: Session, dataset: Dataset, name: str, **fields) -> Clip:
    clip = Clip(dataset_id=dataset.id, name=name, status="ready", **fields)
    session.add(clip)
    session.flush()
    return clip


def make_prediction(session: Session, clip: Clip, clues: dict[str, str], emotion: str = "neutral") -> Prediction:
    version = ModelVersion(backend="baseline", name=f"v-{clip.id}")
    session.add(version)
    session.flush()
    prediction = Prediction(clip_id=clip.id, model_version_id=version.id, clues=clues, emotion=emotion,
                            distribution={emotion: 1.0}, uncertainty=0.5)
    session.add(prediction)
    session.flush()
    return prediction


def make_annotation(
    session: Session,
    clip: Clip,
    user: User,
    *,
    emotion: str | None = "happy",
    clues: dict[str, str] | None = None,
    rating: int | None = 3,
    status: str = AnnotationStatus.submitted.value,
    seconds_spent: float = 60.0,
    submitted_at: datetime | None = None,
    **fields,
) -> Annotation:
    annotation = Annotation(
        clip_id=clip.id, user_id=user.id, emotion=emotion, clues=clues or {}, rating=rating, status=status,
        seconds_spent=seconds_spent, submitted_at=submitted_at or utcnow(), **fields,
    )
    session.add(annotation)
    session.flush()
    return annotation
