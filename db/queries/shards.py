"""Predict shards: create a plan's shards, claim one (at most one live worker each), beat, record, finish.

A claim is an UPDATE guarded by the shard's state, so of two workers racing for a shard exactly
one changes the row (rowcount 1) on SQLite and PostgreSQL alike. A shard whose worker stopped
beating before `stale_before` is claimable again. A worker records each chunk's predictions in
the same transaction as a guarded heartbeat, so a worker that lost its shard saves nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.vocabulary import JobState
from db.models import PredictShard, utcnow


def create_shards(session: Session, *, plan: str, dataset_id: int, version_id: int,
                  groups: list[list[int]]) -> list[PredictShard]:
    rows = [PredictShard(plan=plan, position=i, dataset_id=dataset_id, model_version_id=version_id, clip_ids=group)
            for i, group in enumerate(groups)]
    session.add_all(rows)
    session.flush()
    return rows


def _claimable(stale_before: datetime):  # noqa: ANN202
    return sa.or_(PredictShard.state == JobState.queued.value,
                  sa.and_(PredictShard.state == JobState.running.value,
                          sa.or_(col(PredictShard.heartbeat_at).is_(None), PredictShard.heartbeat_at < stale_before)))


def claim_shard(session: Session, *, plan: str, worker: str, stale_before: datetime) -> PredictShard | None:
    """Take the first unclaimed (or abandoned) shard of the plan for `worker`; None when there is none."""
    candidates = session.exec(select(PredictShard.id).where(PredictShard.plan == plan, _claimable(stale_before))
                              .order_by(PredictShard.position)).all()
    now = utcnow()
    for shard_id in candidates:
        result = session.execute(
            sa.update(PredictShard).where(PredictShard.id == shard_id, _claimable(stale_before))
            .values(state=JobState.running.value, worker=worker, claimed_at=now, heartbeat_at=now,
                    attempts=PredictShard.attempts + 1))
        if result.rowcount == 1:
            session.flush()
            row = session.get(PredictShard, shard_id)
            session.refresh(row)
            return row
    return None


def beat_shard(session: Session, *, shard_id: int, worker: str) -> bool:
    """Refresh the heartbeat; False when the shard is no longer this worker's."""
    result = session.execute(sa.update(PredictShard)
                             .where(PredictShard.id == shard_id, PredictShard.worker == worker,
                                    PredictShard.state == JobState.running.value)
                             .values(heartbeat_at=utcnow()))
    return result.rowcount == 1


def record_chunk(session: Session, *, shard_id: int, worker: str, predicted: list[int],
                 failed: dict[int, str]) -> bool:
    """Beat and add a chunk's outcome, in the caller's transaction; False (nothing written) when not ours."""
    if not beat_shard(session, shard_id=shard_id, worker=worker):
        return False
    row = session.get(PredictShard, shard_id)
    session.refresh(row)
    row.predicted_ids = [*row.predicted_ids, *predicted]
    row.failed = {**row.failed, **{str(k): v for k, v in failed.items()}}
    session.add(row)
    return True


def finish_shard(session: Session, *, shard_id: int, worker: str) -> bool:
    result = session.execute(sa.update(PredictShard)
                             .where(PredictShard.id == shard_id, PredictShard.worker == worker,
                                    PredictShard.state == JobState.running.value)
                             .values(state=JobState.done.value, finished_at=utcnow(), heartbeat_at=utcnow()))
    return result.rowcount == 1


def shards_of_plan(session: Session, *, plan: str) -> Sequence[PredictShard]:
    return session.exec(select(PredictShard).where(PredictShard.plan == plan).order_by(PredictShard.position)).all()


def get_shard(session: Session, *, shard_id: int) -> PredictShard | None:
    return session.get(PredictShard, shard_id)


def release_shard(session: Session, *, shard_id: int, worker: str) -> bool:
    """Hand a shard back (its worker was cancelled): another worker may take it at once."""
    result = session.execute(sa.update(PredictShard)
                             .where(PredictShard.id == shard_id, PredictShard.worker == worker,
                                    PredictShard.state == JobState.running.value)
                             .values(state=JobState.queued.value, worker=None))
    return result.rowcount == 1
