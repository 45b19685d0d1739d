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
from collections import Counter
from contextlib import closing
from typing import Any

import numpy as np
from sqlmodel import Session

from annotation.datasets import HELD_OUT_FRACTION, is_held_out
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
from model.inference import backend_for, clip_input, extract_dataset_features, speaker_baselines
from model.progress import Progress, QuietProgress
from model.registry import make_backend

__all__ = ["HELD_OUT_FRACTION", "is_held_out"]  # the held-out rule lives with the datasets (annotation.datasets)


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


def _item_inputs(items: list[TrainingItem]) -> list[ClipInput]:
    """The items as backends see them: cached features plus the clip's media and transcript where stored
    (a backend that looks at frames or sends audio needs them; the baseline reads only the features)."""
    settings = get_settings()
    inputs = []
    with Session(get_engine(), expire_on_commit=False) as session:
        for i in items:
            clip = clip_queries.get_clip(session, clip_id=i.clip_id)
            dataset = clip_queries.get_dataset(session, dataset_id=clip.dataset_id) if clip is not None else None
            item = clip_input(clip, dataset=dataset, data_dir=settings.data_dir,
                              features=i.features) if clip is not None else ClipInput(name=i.clip_name, clip_id=i.clip_id)
            inputs.append(item.model_copy(update={"language": i.language, "features": i.features,
                                                  "speaker_baseline": i.speaker_baseline}))
    return inputs


def evaluate_items(version: ModelVersion, items: list[TrainingItem], label_set: list[str]) -> dict[str, Any]:
    """Held-out metrics of one version on snapshot items (features cached, nothing recomputed).

    A clip the backend fails on (an LLM endpoint's malformed answer) is left out and counted in `failed`.
    """
    backend = backend_for(version, label_set=label_set)
    predicted_by: dict[int, Any] = {}
    try:
        if items:
            with closing(backend.predict_as_completed(_item_inputs(items))) as results:
                predicted_by = {index: p for index, p in results if not isinstance(p, Exception)}
    finally:
        backend.close()
    failed = len(items) - len(predicted_by)
    items = [item for index, item in enumerate(items) if index in predicted_by]
    predictions = [predicted_by[index] for index in sorted(predicted_by)]
    truth = [i.emotion for i in items]
    predicted = [p.emotion for p in predictions]
    labels = list(dict.fromkeys(list(label_set) + sorted(set(truth) | set(predicted))))
    metrics = emotion_metrics(truth, predicted, labels)
    predicted_clues = [{a.value: t for a, t in p.clues.items()} for p in predictions]
    metrics["clue_similarity"] = clue_similarity(predicted_clues, [i.clues for i in items])
    metrics["clue_overlap"] = clue_overlap(predicted_clues, [i.clues for i in items])
    if failed:
        metrics["failed"] = failed
    return metrics


def annotator_edits(session: Session, *, version_id: int) -> dict[str, float]:
    pairs = [(p.clues, a.clues) for a, p in q.annotations_on_version(session, version_id=version_id)]
    return edit_distance_from_model(pairs)


class NotEnoughLabels(ValueError):
    """Training was refused: the consensus has too few labels per class to learn from."""


class PromotionNotBetter(ValueError):
    """The candidate is not better than the active version on the same held-out clips; promote with confirm=True."""

    def __init__(self, comparison: dict[str, Any]):
        self.comparison = comparison
        cand, act = comparison["candidate"], comparison["active"]
        super().__init__(
            f"{comparison['candidate_name']} is not better than the active {comparison['active_name']} on the same "
            f"{comparison['n']} held-out clips: weighted F1 {cand['weighted_f1']:.3f} "
            f"[{cand['low']:.3f}, {cand['high']:.3f}] vs {act['weighted_f1']:.3f} [{act['low']:.3f}, {act['high']:.3f}]. "
            "Promote anyway only if you mean it.")


def label_counts_problem(emotions: list[str], *, minimum: int) -> str | None:
    """Why these training labels are too few to train on, or None when they will do.

    Needs at least two classes with `minimum` labels each; classes below it are named so a lead
    knows what to label next.
    """
    if not emotions:
        return "there are no consensus labels to train on yet: accept consensus on the Adjudicate page first"
    counts = Counter(emotions)
    usable = [label for label, n in counts.items() if n >= minimum]
    if len(usable) >= 2:
        return None
    shown = ", ".join(f"{label} {n}" for label, n in counts.most_common())
    return (f"training needs at least {minimum} consensus labels in each of two or more classes "
            f"(training part now: {shown})")


@with_session
def training_readiness(session: Session, *, dataset_id: int) -> str | None:
    """None when the dataset's consensus is enough to train on; otherwise why not (for the Models page)."""
    emotions = [c.emotion for c, clip in q.current_consensus(session, dataset_id=dataset_id)
                if c.emotion and not is_held_out(clip.name)]
    return label_counts_problem(emotions, minimum=get_settings().min_labels_per_class)


def _weighted_f1_interval(confusion: dict[str, Any], *, resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of weighted F1, resampling held-out clips from the confusion matrix."""
    from sklearn.metrics import f1_score

    labels, matrix = confusion.get("labels") or [], np.asarray(confusion.get("matrix") or [], dtype=int)
    pairs = [(i, j) for i in range(len(labels)) for j in range(len(labels)) for _ in range(matrix[i, j])]
    if not pairs:
        return (float("nan"), float("nan"))
    truth, pred = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(pairs), size=(resamples, len(pairs)))
    scores = [f1_score(truth[d], pred[d], average="weighted", zero_division=0) for d in draws]
    low, high = np.percentile(scores, [2.5, 97.5])
    return float(low), float(high)


def compare_with_active(version: ModelVersion, active: ModelVersion | None) -> dict[str, Any] | None:
    """The candidate against the active version on the same held-out clips (both measured when it trained)."""
    metrics = version.metrics or {}
    held, parent = metrics.get("held_out") or {}, metrics.get("parent_held_out") or {}
    if active is None or active.id == version.id or version.parent_id != active.id or not held.get("n") \
            or "weighted_f1" not in held or "weighted_f1" not in parent:
        return None
    out: dict[str, Any] = {"candidate_name": version.name, "active_name": active.name, "n": held["n"]}
    for side, scores in (("candidate", held), ("active", parent)):
        low, high = _weighted_f1_interval(scores.get("confusion") or {})
        out[side] = {"weighted_f1": scores["weighted_f1"], "low": low, "high": high}
    out["better"] = out["candidate"]["weighted_f1"] > out["active"]["weighted_f1"]
    return out


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
    problem = label_counts_problem([i.emotion for i in snapshot.train], minimum=settings.min_labels_per_class)
    if problem:
        raise NotEnoughLabels(problem)
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


def promote(*, version_id: int, user: User | None, repredict: bool = True, confirm: bool = False) -> dict[str, Any]:
    """Make a version active (lead only). Old predictions stay.

    A candidate that is not better than the active version on the same held-out clips is refused
    with PromotionNotBetter (its comparison attached) unless `confirm` is given.

    Returns the version id and, under "repredict", the parameters of the predict
    job that should refresh the unlabelled clips and predict the held-out ones, on which
    every version is scored (None when not wanted); the
    caller queues it, so training code never reaches for the job queue.
    """
    require(user, Role.lead, action="promote a model version")
    with Session(get_engine(), expire_on_commit=False) as session:
        version = q.get_version(session, version_id=version_id)
        if version is None:
            raise ValueError(f"no model version {version_id}")
        comparison = compare_with_active(version, q.active_version(session, dataset_id=version.dataset_id))
        if comparison is not None and not comparison["better"] and not confirm:
            raise PromotionNotBetter(comparison)
        q.activate(session, version=version, user=user if user and user.id else None)
        audit.record(session, user=user if user and user.id else None, action="model.promote",
                     entity="modelversion", entity_id=version.id)
        session.commit()
    wanted = repredict and version.dataset_id is not None
    return {"model_version_id": version.id,
            "repredict": {"dataset_id": version.dataset_id, "model_version_id": version.id, "unlabelled_only": True,
                          "held_out": True}
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
