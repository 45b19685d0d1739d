"""Job rows: create, read, update in place, finish, cancel, recover and reset for retry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from core.vocabulary import JobState
from db.models import Job, User, utcnow

LOG_LIMIT = 20_000  # characters of log kept on the row (the tail)


def append_log(row: Job, line: str) -> None:
    row.log = (row.log + line.rstrip("\n") + "\n")[-LOG_LIMIT:]


def create_job(session: Session, *, kind: str, params: dict[str, Any], created_by_id: int | None) -> Job:
    row = Job(kind=kind, params=params, created_by_id=created_by_id)
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


def job_creator(session: Session, *, job_id: int) -> User | None:
    row = session.get(Job, job_id)
    return session.get(User, row.created_by_id) if row and row.created_by_id else None


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


def start_job(session: Session, *, job: Job) -> None:
    job.state = JobState.running.value
    job.started_at = job.started_at or utcnow()
    job.heartbeat_at = utcnow()
    job.error = None
    session.add(job)


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


def fail_stale_jobs(session: Session, *, cutoff: datetime) -> list[int]:
    """Mark running jobs whose heartbeat is older than `cutoff` failed; their ids."""
    recovered = []
    for row in session.exec(select(Job).where(Job.state == JobState.running.value)).all():
        if row.heartbeat_at is None or row.heartbeat_at < cutoff:
            row.state = JobState.failed.value
            row.error = "the worker stopped while running this job; retry to finish it"
            row.finished_at = utcnow()
            session.add(row)
            recovered.append(int(row.id))
    return recovered


def reset_for_retry(session: Session, *, job: Job) -> None:
    job.state = JobState.queued.value
    job.cancel_requested = False
    job.error = None
    # Resumable jobs count only what is left; earlier item errors are retried too.
    job.done = job.failed = job.total = 0
    job.result = {}
    job.finished_at = None
    append_log(job, "[retry]")
    session.add(job)
