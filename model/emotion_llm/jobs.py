"""Sharded prediction as jobs: `predict-sharded` plans the shards and queues one `predict-shard`
job per worker; each of those claims shards until none is left (see `shards.py`)."""

from __future__ import annotations

from typing import Any

from annotation.jobs import enqueue
from core.jobs import JobContext, job
from model.emotion_llm.shards import plan_shards, work_shards, worker_name
from model.jobs import MODEL_ROLES


@job("predict-sharded", roles=MODEL_ROLES)
def predict_sharded_job(ctx: JobContext, *, dataset_id: int, shards: int = 2, model_version_id: int | None = None,
                        clip_ids: list[int] | None = None, unlabelled_only: bool = False,
                        workers: int | None = None) -> dict[str, Any]:
    ctx.set_total(1)
    plan = plan_shards(dataset_id=dataset_id, shards=shards, version_id=model_version_id, clip_ids=clip_ids,
                       unlabelled_only=unlabelled_only)
    user = ctx.acting_user()
    count = min(workers or plan["shards"], plan["shards"])
    job_ids = [enqueue("predict-shard", params={"plan": plan["plan"]}, user=user)
               for _ in range(count)]
    ctx.log(f"plan {plan['plan']}: {plan['clips']} clips in {plan['shards']} shards, {count} worker job(s)")
    ctx.advance(message=f"{plan['shards']} shards queued")
    return {**plan, "shard_job_ids": job_ids}


@job("predict-shard", roles=MODEL_ROLES)
def predict_shard_job(ctx: JobContext, *, plan: str) -> dict[str, Any]:
    return work_shards(plan=plan, worker=worker_name(f"job{ctx.job_id}"), progress=ctx)
