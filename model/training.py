"""Retraining on consensus: frozen snapshots, a held-out split by clip, versioned models, promotion.

A snapshot freezes the current consensus labels (ids and a content hash). The
held-out split is decided by a hash of the clip name, so a clip stays held out
across snapshots and is never trained on. Every version records its parent,
snapshot, artifacts and held-out metrics, measured before (parent) and after.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from sqlmodel import Session

from annotation.evaluation.metrics import (
    clue_overlap,
    clue_similarity,
    edit_distance_from_model,
    emotion_metrics,
)
from annotation.permissions import require
from core.settings import get_settings
from core.vocabulary import Role
from db.engine import get_engine, with_session
from db.models import Dataset, ModelVersion, User
from db.queries import audit
from db.queries import clips as clip_queries
from db.queries import model_versions as q
from model.base import ClipInput, TrainingItem, TrainingSnapshot
from model.inference import backend_for, extract_dataset_features, speaker_baselines
from model.progress import Progress, QuietProgress
from model.registry import make_backend

HELD_OUT_FRACTION = 0.2


def is_held_out(clip_name: str, fraction: float = HELD_OUT_FRACTION) -> bool:
    """Deterministic by clip name: the same clip is held out in every snapshot."""
    digest = hashlib.sha256(clip_name.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


def build_snapshot(session: Session, *, dataset_id: int, versions: dict[str, str],
                   held_out_fraction: float = HELD_OUT_FRACTION) -> TrainingSnapshot:
    """Freeze current consensus with cached features; clips lacking features are left out (extract first)."""
    dataset = clip_queries.get_dataset(session, dataset_id=dataset_id)
    if dataset is None:
        raise ValueError(f"no dataset {dataset_id}")
    rows = q.current_consensus(session, dataset_id=dataset_id)
    features = q.cached_features(session, clip_ids=[clip.id for _, clip in rows], versions=versions)
    baselines = speaker_baselines(session, dataset_id=dataset_id, versions=versions)
    canonical = {label.lower(): label for label in dataset.label_set}
    train, held = [], []
    for consensus, clip in rows:
        if not consensus.emotion or set(features[clip.id]) < set(versions):
            continue
        emotion = canonical.get(consensus.emotion.strip().lower(), consensus.emotion.strip())
        item = TrainingItem(clip_id=clip.id, clip_name=clip.name, consensus_id=consensus.id, emotion=emotion,
                            clues=dict(consensus.clues), language=_language(clip, dataset), features=features[clip.id],
                            speaker_baseline=baselines.get(clip.speaker) if clip.speaker else None)
        (held if is_held_out(clip.name, held_out_fraction) else train).append(item)
    digest = hashlib.sha256(json.dumps(
        [[i.clip_id, i.consensus_id, i.emotion, i.clues] for i in sorted(train + held, key=lambda i: i.clip_id)],
        ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()
    return TrainingSnapshot(dataset_id=dataset_id, label_set=list(dataset.label_set), content_hash=digest,
                            train=train, held_out=held)


def _language(clip, dataset: Dataset) -> str | None:  # noqa: ANN001
    if clip.language:
        return clip.language
    return dataset.language if dataset.language not in (None, "", "auto") else None


def evaluate_items(version: ModelVersion, items: list[TrainingItem], label_set: list[str]) -> dict[str, Any]:
    """Held-out metrics of one version on snapshot items (features cached, nothing recomputed)."""
    backend = backend_for(version, label_set=label_set)
    try:
        inputs = [ClipInput(name=i.clip_name, clip_id=i.clip_id, language=i.language, features=i.features,
                            speaker_baseline=i.speaker_baseline) for i in items]
        predictions = backend.predict(inputs) if inputs else []
    finally:
        backend.close()
    truth = [i.emotion for i in items]
    predicted = [p.emotion for p in predictions]
    labels = list(dict.fromkeys(list(label_set) + sorted(set(truth) | set(predicted))))
    metrics = emotion_metrics(truth, predicted, labels)
    predicted_clues = [{a.value: t for a, t in p.clues.items()} for p in predictions]
    metrics["clue_similarity"] = clue_similarity(predicted_clues, [i.clues for i in items])
    metrics["clue_overlap"] = clue_overlap(predicted_clues, [i.clues for i in items])
    return metrics


def annotator_edits(session: Session, *, version_id: int) -> dict[str, float]:
    pairs = [(p.clues, a.clues) for a, p in q.annotations_on_version(session, version_id=version_id)]
    return edit_distance_from_model(pairs)


def train_version(*, dataset_id: int, user: User | None, backend_name: str | None = None,
                  parent_id: int | None = None, held_out_fraction: float = HELD_OUT_FRACTION,
                  progress: Progress | None = None) -> ModelVersion:
    """Snapshot consensus, fit a new version, evaluate it and its parent on the held-out clips."""
    require(user, Role.lead, Role.researcher, action="train a model")
    progress = progress or QuietProgress()
    settings = get_settings()
    engine = get_engine()
    backend = make_backend(backend_name, settings=settings)
    progress.set_total(4)
    progress.log("caching features of labelled clips")
    with Session(engine, expire_on_commit=False) as session:
        labelled = [clip.id for _, clip in q.current_consensus(session, dataset_id=dataset_id)]
    if labelled:
        extract_dataset_features(dataset_id=dataset_id, clip_ids=labelled, backend=backend, progress=_Nested(progress))
    progress.advance(message="features ready")
    with Session(engine, expire_on_commit=False) as session:
        snapshot = build_snapshot(session, dataset_id=dataset_id, versions=backend.feature_versions(),
                                  held_out_fraction=held_out_fraction)
        parent = q.get_version(session, version_id=parent_id) if parent_id else \
            (q.active_version(session, dataset_id=dataset_id) or
             q.untrained_version(session, backend=backend.name, dataset_id=dataset_id))
        session.commit()
    progress.log(f"snapshot {snapshot.content_hash[:10]}: {len(snapshot.train)} train, {len(snapshot.held_out)} held out")
    started = time.perf_counter()
    if hasattr(backend, "report_to"):  # long trainers report steps and loss, and stop when the job is cancelled
        backend.report_to(progress)
    artifacts = backend.train(snapshot)
    backend.close()
    seconds = round(time.perf_counter() - started, 2)
    progress.advance(message=f"trained in {seconds} s")
    relative = str(artifacts.path.relative_to(settings.data_dir))
    with Session(engine, expire_on_commit=False) as session:
        count = len(q.list_versions(session, dataset_id=dataset_id))
        version = q.create_version(
            session, backend=backend.name, name=f"{backend.name}-v{count + 1}", dataset_id=dataset_id,
            parent_id=parent.id if parent else None, snapshot=snapshot.summary(), artifacts_path=relative,
            config=artifacts.config)
        session.commit()
    metrics = {"held_out": evaluate_items(version, snapshot.held_out, snapshot.label_set),
               "train_size": len(snapshot.train), "held_out_size": len(snapshot.held_out),
               "train_seconds": seconds, **artifacts.train_metrics}
    if parent is not None:
        metrics["parent_held_out"] = evaluate_items(parent, snapshot.held_out, snapshot.label_set)
    progress.advance(message="evaluated on held-out consensus")
    with Session(engine, expire_on_commit=False) as session:
        version = q.get_version(session, version_id=version.id)
        q.set_metrics(session, version=version, metrics=metrics)
        audit.record(session, user=user if user and user.id else None, action="model.train", entity="modelversion",
                     entity_id=version.id, detail={"snapshot": snapshot.content_hash})
        session.commit()
    progress.advance(message=f"{version.name}: weighted F1 {metrics['held_out'].get('weighted_f1')}")
    return version


def evaluate_version(*, version_id: int, user: User | None, dataset_id: int | None = None) -> dict[str, Any]:
    """Re-measure a version on the current held-out consensus of its dataset (and annotators' edits of its clues)."""
    require(user, Role.lead, Role.researcher, action="evaluate a model")
    engine = get_engine()
    with Session(engine, expire_on_commit=False) as session:
        version = q.get_version(session, version_id=version_id)
        if version is None:
            raise ValueError(f"no model version {version_id}")
        dataset_id = dataset_id or version.dataset_id
        if dataset_id is None:
            raise ValueError("the version has no dataset; name one to evaluate on")
        labelled = [clip.id for _, clip in q.current_consensus(session, dataset_id=dataset_id)]
    backend = backend_for(version)
    if labelled:
        extract_dataset_features(dataset_id=dataset_id, clip_ids=labelled, backend=backend)
    versions = backend.feature_versions()
    backend.close()
    with Session(engine, expire_on_commit=False) as session:
        snapshot = build_snapshot(session, dataset_id=dataset_id, versions=versions)
        trained_on = set((version.snapshot or {}).get("train_clip_ids", []))
        held = [i for i in snapshot.held_out if i.clip_id not in trained_on]
        metrics = {"evaluation": {**evaluate_items(version, held, snapshot.label_set),
                                  "snapshot": snapshot.content_hash},
                   "annotator_edit_distance": annotator_edits(session, version_id=version.id)}
        q.set_metrics(session, version=version, metrics=metrics)
        session.commit()
    return metrics


def promote(*, version_id: int, user: User | None, repredict: bool = True) -> dict[str, Any]:
    """Make a version active (lead only). Old predictions stay.

    Returns the version id and, under "repredict", the parameters of the predict
    job that should refresh the unlabelled clips (None when not wanted); the
    caller queues it, so training code never reaches for the job queue.
    """
    require(user, Role.lead, action="promote a model version")
    with Session(get_engine(), expire_on_commit=False) as session:
        version = q.get_version(session, version_id=version_id)
        if version is None:
            raise ValueError(f"no model version {version_id}")
        q.activate(session, version=version, user=user if user and user.id else None)
        audit.record(session, user=user if user and user.id else None, action="model.promote",
                     entity="modelversion", entity_id=version.id)
        session.commit()
    wanted = repredict and version.dataset_id is not None
    return {"model_version_id": version.id,
            "repredict": {"dataset_id": version.dataset_id, "model_version_id": version.id, "unlabelled_only": True}
            if wanted else None}


class _Nested:
    """Passes item failures and log lines through, without touching the outer total."""

    def __init__(self, outer: Progress) -> None:
        self.outer = outer

    def set_total(self, total: int) -> None:
        pass

    def advance(self, n: int = 1, message: str | None = None) -> None:
        pass

    def fail_item(self, name: str, reason: str) -> None:
        self.outer.log(f"[features] {name}: {reason}")

    def log(self, line: str) -> None:
        self.outer.log(line)


@with_session
def list_versions(session: Session, *, dataset_id: int | None = None) -> list[ModelVersion]:
    """A dataset's model versions, oldest first."""
    return list(q.list_versions(session, dataset_id=dataset_id))
