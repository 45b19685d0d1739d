"""Predictions, and the one rule for which of them a person sees.

A clip may have predictions from several model versions. Annotators are
shown the prediction of the dataset's *active* version (the version promoted
for that dataset, else the newest promoted dataset-less one), and each
annotation records the prediction it was shown (`Annotation.prediction_id`).
Everything that later compares a person's work with the model (adjudication,
edit effort, diffs) uses that recorded prediction, not whatever is newest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from db.models import Annotation, ModelVersion, Prediction, utcnow

_CHUNK = 5000


def active_version_id(session: Session, *, dataset_id: int | None) -> int | None:
    """The active version for this dataset, else the newest active dataset-less one (remembered for the session)."""
    cache = session.info.setdefault("active_model_version", {})
    if dataset_id not in cache:
        scope = col(ModelVersion.dataset_id).is_(None)
        if dataset_id is not None:
            scope = sa.or_(ModelVersion.dataset_id == dataset_id, scope)
        cache[dataset_id] = session.exec(
            select(ModelVersion.id)
            .where(ModelVersion.is_active.is_(True), scope)
            .order_by(col(ModelVersion.dataset_id).is_(None), col(ModelVersion.id).desc())
            .limit(1)
        ).first()
    return cache[dataset_id]


def forget_active_version(session: Session) -> None:
    """Drop the session's memory of active versions (after a promotion)."""
    session.info.pop("active_model_version", None)


def get_prediction(session: Session, *, prediction_id: int) -> Prediction | None:
    return session.get(Prediction, prediction_id)


def active_prediction(session: Session, *, clip_id: int, dataset_id: int) -> Prediction | None:
    """The prediction an annotator opening this clip now is shown: the active version's.

    Two point lookups on purpose: as one join, SQLite's planner walks every
    prediction of the active version instead of the (clip_id, version) key.
    """
    version_id = active_version_id(session, dataset_id=dataset_id)
    if version_id is None:
        return None
    return prediction_for_clip(session, clip_id=clip_id, version_id=version_id)


def active_predictions(session: Session, *, dataset_id: int, clip_ids: Iterable[int]) -> dict[int, Prediction]:
    """The active version's predictions of these clips, by clip id."""
    version_id = active_version_id(session, dataset_id=dataset_id)
    if version_id is None:
        return {}
    ids = sorted(set(clip_ids))
    out: dict[int, Prediction] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = session.exec(select(Prediction).where(Prediction.model_version_id == version_id,
                                                     col(Prediction.clip_id).in_(ids[start:start + _CHUNK])))
        out.update({row.clip_id: row for row in rows})
    return out


def predictions_seen(session: Session, *, annotations: Sequence[Annotation]) -> dict[int, Prediction]:
    """The prediction each annotation was shown, by annotation id (annotations shown none are left out)."""
    wanted = sorted({a.prediction_id for a in annotations if a.prediction_id is not None})
    rows: dict[int, Prediction] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows.update({p.id: p for p in session.exec(
            select(Prediction).where(col(Prediction.id).in_(wanted[start:start + _CHUNK])))})
    return {a.id: rows[a.prediction_id] for a in annotations if a.prediction_id in rows}


def prediction_shown_for_clip(session: Session, *, annotations: Sequence[Annotation]) -> dict[int, Prediction]:
    """Per clip, the prediction its annotators were shown (the one most of them saw; the newer on a tie)."""
    seen = predictions_seen(session, annotations=annotations)
    by_clip: dict[int, Counter] = {}
    rows: dict[int, Prediction] = {}
    for annotation in annotations:
        prediction = seen.get(annotation.id)
        if prediction is not None:
            by_clip.setdefault(annotation.clip_id, Counter())[prediction.id] += 1
            rows[prediction.id] = prediction
    return {clip_id: rows[max(counts, key=lambda pid: (counts[pid], pid))] for clip_id, counts in by_clip.items()}


def prediction_for_adjudication(session: Session, *, clip_id: int, dataset_id: int,
                                 annotations: Sequence[Annotation]) -> Prediction | None:
    """What a lead compares the annotations with: the prediction the annotators were shown.

    Annotations that recorded none (imported, or made before predictions existed)
    fall back to the active version's prediction, then to the clip's newest.
    """
    return (prediction_shown_for_clip(session, annotations=annotations).get(clip_id)
            or active_prediction(session, clip_id=clip_id, dataset_id=dataset_id)
            or prediction_for_clip(session, clip_id=clip_id))


def newest_predictions(session: Session, *, clip_ids: Iterable[int]) -> dict[int, Prediction]:
    """Each clip's newest prediction from any version (for clips no rule above covers)."""
    ids = sorted(set(clip_ids))
    out: dict[int, Prediction] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = session.exec(select(Prediction).where(col(Prediction.clip_id).in_(ids[start:start + _CHUNK]))
                            .order_by(col(Prediction.created_at), col(Prediction.id)))
        out.update({row.clip_id: row for row in rows})  # later rows win
    return out


def predictions_for_comparison(session: Session, *, dataset_id: int,
                               annotations: Sequence[Annotation]) -> dict[int, Prediction]:
    """Per clip of these annotations, the prediction to compare them with (the rule of
    `prediction_for_adjudication`, in bulk)."""
    out = prediction_shown_for_clip(session, annotations=annotations)
    missing = {a.clip_id for a in annotations} - set(out)
    if missing:
        out.update(active_predictions(session, dataset_id=dataset_id, clip_ids=missing))
        missing -= set(out)
    if missing:
        out.update(newest_predictions(session, clip_ids=missing))
    return out


def current_predictions(session: Session, *, dataset_id: int, clip_ids: Iterable[int]) -> dict[int, Prediction]:
    """Per clip, the active version's prediction, else the clip's newest: what the model says now."""
    wanted = set(clip_ids)
    out = active_predictions(session, dataset_id=dataset_id, clip_ids=wanted)
    missing = wanted - set(out)
    if missing:
        out.update(newest_predictions(session, clip_ids=missing))
    return out


def prediction_for_clip(session: Session, *, clip_id: int, version_id: int | None = None) -> Prediction | None:
    """The clip's prediction from `version_id`, or its newest one from any version."""
    query = select(Prediction).where(Prediction.clip_id == clip_id)
    if version_id is not None:
        query = query.where(Prediction.model_version_id == version_id)
    return session.exec(query.order_by(col(Prediction.id).desc())).first()


def save_prediction(session: Session, *, clip_id: int, version_id: int, clues: dict[str, str], emotion: str,
                    distribution: dict[str, float], uncertainty: float,
                    spans: list[dict[str, Any]], emotion_words: list[str] | None = None) -> Prediction:
    """Insert or replace the prediction of one version for one clip."""
    row = prediction_for_clip(session, clip_id=clip_id, version_id=version_id)
    row = row or Prediction(clip_id=clip_id, model_version_id=version_id)
    row.clues, row.emotion, row.distribution = clues, emotion, distribution
    row.uncertainty, row.spans, row.created_at = uncertainty, spans, utcnow()
    row.emotion_words = list(emotion_words or [])
    session.add(row)
    return row


def predictions_for_version(session: Session, *, version_id: int) -> Sequence[Prediction]:
    return session.exec(select(Prediction).where(Prediction.model_version_id == version_id)
                        .order_by(Prediction.clip_id)).all()


def predicted_clip_ids(session: Session, *, version_id: int, since: datetime | None = None) -> set[int]:
    """Clips the version has predicted (only those stored at or after `since`, when given)."""
    query = select(Prediction.clip_id).where(Prediction.model_version_id == version_id)
    if since is not None:
        query = query.where(Prediction.created_at >= since)
    return set(session.exec(query).all())
