"""Predicting past one GPU: a predict run split into shards that several workers take.

`plan_shards` splits a dataset's clips into shards (rows in `predictshard`); every
`predict-shard` job (one per worker, each worker on its own GPU) claims shards one at a time
until none is left, beating a heartbeat per chunk. A shard whose worker died (its heartbeat
older than `CLUELAB_SHARD_STALE_SECONDS`) is claimed again by the next worker that asks, and
that worker skips the clips the dead one had recorded: each chunk's predictions are saved in
the same transaction as the guarded heartbeat, so no clip is predicted (and saved) twice.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from core.jobs import JobCancelled
from core.settings import get_settings
from db.engine import get_engine, write_transaction
from db.models import utcnow
from db.queries import clips as clip_queries
from db.queries import model_versions as q
from db.queries import predictions as prediction_queries
from db.queries import shards as shard_queries
from model.base import ClipInput, ClipPrediction, ModelBackend
from model.inference import dataset_and_version
from model.progress import Progress, QuietProgress


def worker_name(tag: str = "") -> str:
    """Host, process and thread: what a shard's `worker` column says about who holds it."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}" + (f":{tag}" if tag else "")


def plan_shards(*, dataset_id: int, shards: int, version_id: int | None = None, clip_ids: list[int] | None = None,
                unlabelled_only: bool = False) -> dict[str, Any]:
    """Split the clips to predict into `shards` contiguous shards of one plan; returns the plan's summary."""
    engine = get_engine()
    with Session(engine, expire_on_commit=False) as session:
        _, version = dataset_and_version(session, dataset_id=dataset_id, version_id=version_id)
        ids = [c.id for c in q.clips_of_dataset(session, dataset_id=dataset_id, clip_ids=clip_ids,
                                                 unlabelled_only=unlabelled_only)]
    count = max(1, min(shards, len(ids))) if ids else 0
    size = -(-len(ids) // count) if count else 0
    groups = [ids[i:i + size] for i in range(0, len(ids), size)] if size else []
    plan = uuid.uuid4().hex
    with Session(engine, expire_on_commit=False) as session, write_transaction(session):
        shard_queries.create_shards(session, plan=plan, dataset_id=dataset_id, version_id=version.id, groups=groups)
    return {"plan": plan, "shards": len(groups), "clips": len(ids), "model_version_id": version.id,
            "model_version": version.name}


def _predict(backend: ModelBackend, inputs: list[ClipInput]) -> list[ClipPrediction | Exception]:
    many = getattr(backend, "predict_many", None)
    if many is not None:
        return many(inputs)
    try:
        return backend.predict(inputs)
    except Exception as error:  # noqa: BLE001 — a backend without per-clip results fails the chunk's clips
        return [error] * len(inputs)


class ShardLost(RuntimeError):
    """Another worker took this shard (this one was presumed dead)."""


def work_shards(*, plan: str, worker: str | None = None, progress: Progress | None = None,
                chunk: int | None = None) -> dict[str, Any]:
    """Claim and predict the plan's shards until none is left; returns what this worker did."""
    from model.inference import backend_for

    progress = progress or QuietProgress()
    settings = get_settings()
    worker = worker or worker_name()
    engine = get_engine()
    stale = timedelta(seconds=settings.shard_stale_seconds)
    done = failed = taken = 0
    total = 0
    backends: dict[int, ModelBackend] = {}
    try:
        while True:
            with Session(engine, expire_on_commit=False) as session, write_transaction(session):
                shard = shard_queries.claim_shard(session, plan=plan, worker=worker, stale_before=utcnow() - stale)
            if shard is None:
                break
            taken += 1
            todo = [c for c in shard.clip_ids if c not in set(shard.predicted_ids)]
            total += len(todo)
            progress.set_total(total)
            if shard.attempts > 1:
                progress.log(f"shard {shard.position} taken again (attempt {shard.attempts}): "
                             f"{len(shard.predicted_ids)} clips were already predicted, {len(todo)} left")
            if shard.model_version_id not in backends:
                with Session(engine, expire_on_commit=False) as session:
                    version = q.get_version(session, version_id=shard.model_version_id)
                    dataset = clip_queries.get_dataset(session, dataset_id=shard.dataset_id)
                backends[shard.model_version_id] = backend_for(version, label_set=dataset.label_set)
            backend = backends[shard.model_version_id]
            size = chunk or max(1, settings.emotion_llm_batch_size * 2)
            try:
                for start in range(0, len(todo), size):
                    ok, bad = _predict_chunk(engine, backend, shard, worker, todo[start:start + size], settings)
                    done += ok
                    failed += len(bad)
                    for name, reason in bad:
                        progress.fail_item(name, reason)
                    progress.advance(ok, message=f"shard {shard.position}: {done} predicted")
            except JobCancelled:
                with Session(engine) as session, write_transaction(session):
                    shard_queries.release_shard(session, shard_id=shard.id, worker=worker)
                raise
            except ShardLost as lost:
                progress.log(str(lost))
                continue
            with Session(engine) as session, write_transaction(session):
                shard_queries.finish_shard(session, shard_id=shard.id, worker=worker)
    finally:
        for backend in backends.values():
            backend.close()
    progress.log(f"{worker}: {taken} shard(s), {done} predicted, {failed} failed")
    return {"plan": plan, "worker": worker, "shards": taken, "predicted": done, "failed": failed}


def _predict_chunk(engine, backend: ModelBackend, shard, worker: str, clip_ids: list[int],  # noqa: ANN001
                   settings) -> tuple[int, list[tuple[str, str]]]:  # noqa: ANN001
    """Predict some of a shard's clips and save them with the shard's heartbeat, in one transaction."""
    from model.inference import clip_input

    versions = backend.feature_versions()
    with Session(engine, expire_on_commit=False) as session:
        dataset = clip_queries.get_dataset(session, dataset_id=shard.dataset_id)
        clips = list(clip_queries.clips_in_dataset(session, dataset_id=shard.dataset_id, clip_ids=clip_ids))
        cached = q.cached_features(session, clip_ids=[c.id for c in clips], versions=versions)
    inputs = [clip_input(c, dataset=dataset, data_dir=settings.data_dir, features=cached[c.id]) for c in clips]
    missing = [i for i, c in enumerate(clips) if set(cached[c.id]) < set(versions)]
    extracted: dict[int, dict] = {}
    if missing:
        for i, features in zip(missing, backend.extract_many([inputs[i] for i in missing]), strict=True):
            if not isinstance(features, Exception):
                inputs[i].features = features
                extracted[clips[i].id] = features
    results = _predict(backend, inputs)
    predicted: list[int] = []
    bad: list[tuple[str, str]] = []
    with Session(engine, expire_on_commit=False) as session, write_transaction(session):
        outcome = {c.id: r for c, r in zip(clips, results, strict=True)}
        ok = shard_queries.record_chunk(
            session, shard_id=shard.id, worker=worker,
            predicted=[cid for cid, r in outcome.items() if not isinstance(r, Exception)],
            failed={cid: f"{type(r).__name__}: {r}" for cid, r in outcome.items() if isinstance(r, Exception)})
        if not ok:
            session.rollback()
            raise ShardLost(f"shard {shard.position} was taken by another worker; {worker} stops on it")
        for clip_id, features in extracted.items():
            q.save_features(session, clip_id=clip_id, features=features)
        for clip in clips:
            result = outcome[clip.id]
            if isinstance(result, Exception):
                bad.append((clip.name, f"{type(result).__name__}: {result}"))
                continue
            prediction_queries.save_prediction(
                session, clip_id=clip.id, version_id=shard.model_version_id,
                clues={a.value: t for a, t in result.clues.items()}, emotion=result.emotion,
                distribution=result.distribution, uncertainty=result.uncertainty,
                spans=[s.model_dump(mode="json") for s in result.spans])
            predicted.append(clip.id)
    return len(predicted), bad


def plan_status(*, plan: str) -> list[dict[str, Any]]:
    with Session(get_engine()) as session:
        return [{"position": s.position, "state": s.state, "worker": s.worker, "attempts": s.attempts,
                 "clips": len(s.clip_ids), "predicted": len(s.predicted_ids), "failed": len(s.failed)}
                for s in shard_queries.shards_of_plan(session, plan=plan)]
