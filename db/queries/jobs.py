"""Job rows: create, read, claim for a worker, update in place, beat, finish, cancel, recover, reset for retry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from core.vocabulary import JobState
from db.models import Job, User, utcnow

LOG_LIMIT = 20_000  # characters of log kept on the row (the tail)


def append_log(row: Job, line: str) -> None:
    row.log = (row.log + line.rstrip("\n") + "\n")[-LOG_LIMIT:]


def create_job(session: Session, *, kind: str, params: dict[str, Any], created_by_id: int | None,
               run_as_cli: bool = False) -> Job:
    row = Job(kind=kind, params=params, created_by_id=created_by_id, run_as_id=created_by_id, run_as_cli=run_as_cli)
    session.add(row)
    session.flush()
    return row


def get_job(session: Session, *, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def list_jobs(session: Session, *, limit: int = 50, kind: str | None = None) -> Sequence[Job]:
    query = select(Job).order_by(Job.id.desc()).limit(limit)  # type: ignore[union-attr]
    if kind:
        query = query.where(Job.kind == kind)
    return session.exec(query).all()


def change_job(session: Session, *, job_id: int, change: Callable[[Job], None]) -> Job | None:
    """Apply `change` to the row and beat its heartbeat; None when the row is gone."""
    row = session.get(Job, job_id)
    if row is None:
        return None
    change(row)
    row.heartbeat_at = utcnow()
    session.add(row)
    return row


def job_runner(session: Session, *, job: Job) -> User | None:
    """The saved user a job acts as (None for the command line, or nobody)."""
    return session.get(User, job.run_as_id) if job.run_as_id else None


def claim_job(session: Session, *, job_id: int, worker: str) -> bool:
    """Move a queued job to running for `worker`, atomically: of two workers handed the same job, one wins."""
    now = utcnow()
    claimed = session.execute(
        sa.update(Job).where(Job.id == job_id, Job.state == JobState.queued.value)
        .values(state=JobState.running.value, worker=worker, attempts=Job.attempts + 1, heartbeat_at=now,
                started_at=sa.func.coalesce(Job.started_at, now), error=None)
        .execution_options(synchronize_session=False))
    return claimed.rowcount == 1


def beat(session: Session, *, job_id: int, worker: str) -> bool:
    """Touch a running job's heartbeat; False when the job is no longer this worker's."""
    touched = session.execute(
        sa.update(Job).where(Job.id == job_id, Job.state == JobState.running.value, Job.worker == worker)
        .values(heartbeat_at=utcnow()).execution_options(synchronize_session=False))
    return touched.rowcount == 1


def running_jobs(session: Session) -> Sequence[Job]:
    return session.exec(select(Job).where(Job.state == JobState.running.value).order_by(Job.id)).all()


def queued_job_ids(session: Session) -> list[int]:
    rows = session.exec(select(Job.id).where(Job.state == JobState.queued.value).order_by(Job.id)).all()
    return [int(i) for i in rows if i is not None]


def requeue_job(session: Session, *, job: Job, note: str) -> None:
    """Put a running job whose worker is gone back in the queue; resumable jobs count only what is left."""
    job.state = JobState.queued.value
    job.worker = None
    job.done = job.failed = job.total = 0
    append_log(job, f"[requeued] {note}")
    session.add(job)


def finish_job(session: Session, *, job_id: int, state: JobState, error: str | None = None,
               result: dict[str, Any] | None = None) -> None:
    row = session.get(Job, job_id)
    if row is None:
        return
    row.state = state.value
    row.finished_at = utcnow()
    row.error = error
    if result:
        row.result = {**row.result, **result}
    if error:
        append_log(row, f"[failed] {error}")
    session.add(row)


def request_cancel(session: Session, *, job_id: int) -> Job | None:
    """Flag the job; a queued one is cancelled at once, a running one stops at its next step."""
    row = session.get(Job, job_id)
    if row is None:
        return None
    row.cancel_requested = True
    if row.state == JobState.queued.value:
        row.state = JobState.cancelled.value
        row.finished_at = utcnow()
    session.add(row)
    return row


def reset_for_retry(session: Session, *, job: Job, run_as_id: int | None, run_as_cli: bool) -> None:
    """Queue a finished job again, to run as whoever retried it."""
    job.state = JobState.queued.value
    job.cancel_requested = False
    job.error = None
    job.worker = None
    job.run_as_id, job.run_as_cli = run_as_id, run_as_cli
    # Resumable jobs count only what is left; earlier item errors are retried too.
    job.done = job.failed = job.total = 0
    job.result = {}
    job.finished_at = None
    append_log(job, "[retry]")
    session.add(job)
