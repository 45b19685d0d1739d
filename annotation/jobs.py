"""Jobs as records: a Job row per run, executed by the worker through the job runtime.

Every progress update commits at once so pages see it. A worker that dies
leaves its job `running` with a stale heartbeat: `recover_stale_jobs` marks it
failed and `retry` queues it again (job functions are resumable: they skip
finished items).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from core import jobs as runtime
from core.jobs import JobCancelled, JobContext
from core.vocabulary import JobState
from db.engine import session_scope
from db.models import Job, User, utcnow
from db.queries import jobs as job_queries

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = timedelta(seconds=5)
STALE_AFTER = timedelta(minutes=2)


class RecordedJobContext(JobContext):
    """A JobContext that writes every report to the job's row."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self._last_beat = utcnow() - HEARTBEAT_EVERY

    def _update(self, change: Callable[[Job], None]) -> Job:
        with session_scope() as session:
            row = job_queries.change_job(session, job_id=self.job_id, change=change)
            if row is None:
                raise JobCancelled(f"job {self.job_id} was deleted")
        self._last_beat = row.heartbeat_at
        return row

    def set_total(self, total: int) -> None:
        self._update(lambda row: setattr(row, "total", int(total)))

    def advance(self, n: int = 1, message: str | None = None) -> None:
        def change(row: Job) -> None:
            row.done += n
            if message is not None:
                row.message = message

        if self._update(change).cancel_requested:
            raise JobCancelled("cancelled by request")

    def fail_item(self, name: str, reason: str) -> None:
        def change(row: Job) -> None:
            row.failed += 1
            errors = list(row.result.get("item_errors", []))
            errors.append({"item": name, "error": reason})
            row.result = {**row.result, "item_errors": errors}
            job_queries.append_log(row, f"[error] {name}: {reason}")

        if self._update(change).cancel_requested:
            raise JobCancelled("cancelled by request")

    def log(self, line: str) -> None:
        self._update(lambda row: job_queries.append_log(row, line))

    def message(self, text: str) -> None:
        self._update(lambda row: setattr(row, "message", text))

    def acting_user(self) -> User | None:
        with session_scope() as session:
            return job_queries.job_creator(session, job_id=self.job_id)

    def check_cancelled(self) -> None:
        with session_scope() as session:
            row = job_queries.get_job(session, job_id=self.job_id)
            if row is None or row.cancel_requested:
                raise JobCancelled("cancelled by request")
        if utcnow() - self._last_beat >= HEARTBEAT_EVERY:
            self._update(lambda row: None)


def _finish(job_id: int, state: JobState, *, error: str | None = None, result: dict[str, Any] | None = None) -> None:
    with session_scope() as session:
        job_queries.finish_job(session, job_id=job_id, state=state, error=error, result=result)


def execute(job_id: int) -> None:
    """Run one job to its end state. Safe to call for a job already finished (does nothing)."""
    registry = runtime.load_job_modules()
    with session_scope() as session:
        row = job_queries.get_job(session, job_id=job_id)
        if row is None or row.state not in (JobState.queued.value, JobState.running.value):
            return
        if row.cancel_requested:
            job_queries.finish_job(session, job_id=job_id, state=JobState.cancelled)
            return
        fn = registry.get(row.kind)
        if fn is None:
            job_queries.finish_job(session, job_id=job_id, state=JobState.failed,
                                   error=f"unknown job kind {row.kind!r}")
            return
        job_queries.start_job(session, job=row)
        params = dict(row.params)
    try:
        result = fn(RecordedJobContext(job_id), **params)
    except JobCancelled:
        _finish(job_id, JobState.cancelled)
    except Exception as error:  # noqa: BLE001 — a job's failure is recorded, never lost
        log.exception("job %s failed", job_id)
        _finish(job_id, JobState.failed, error=f"{type(error).__name__}: {error}",
                result={"traceback": traceback.format_exc()[-4000:]})
    else:
        _finish(job_id, JobState.done, result=result or {})


def get_huey():
    """The task queue whose tasks run `execute`."""
    return runtime.get_huey(execute)


def enqueue(kind: str, *, params: dict[str, Any] | None = None, user: User | None = None) -> int:
    """Create a queued Job row and hand it to the worker. Returns the job id."""
    known = runtime.load_job_modules()
    if kind not in known:
        raise ValueError(f"unknown job kind {kind!r}; known: {sorted(known)}")
    with session_scope() as session:
        job_id = int(job_queries.create_job(session, kind=kind, params=params or {},
                                            created_by_id=user.id if user else None).id)
    get_huey().execute_job(job_id)
    return job_id


def run_job_inline(job_id: int) -> Job:
    """Run a queued job in this process (tests, the CLI's --wait)."""
    execute(job_id)
    return get_job(job_id)  # type: ignore[return-value]


def get_job(job_id: int) -> Job | None:
    with session_scope() as session:
        return job_queries.get_job(session, job_id=job_id)


def list_jobs(*, limit: int = 50, kind: str | None = None) -> list[Job]:
    with session_scope() as session:
        return list(job_queries.list_jobs(session, limit=limit, kind=kind))


def cancel(job_id: int) -> None:
    """Ask a job to stop; a queued one is cancelled at once, a running one at its next step."""
    with session_scope() as session:
        job_queries.request_cancel(session, job_id=job_id)


def recover_stale_jobs(*, stale_after: timedelta = STALE_AFTER) -> list[int]:
    """Mark running jobs whose worker stopped beating as failed, so they can be retried."""
    with session_scope() as session:
        return job_queries.fail_stale_jobs(session, cutoff=utcnow() - stale_after)


def retry(job_id: int, *, inline: bool = False) -> None:
    """Queue a failed or cancelled job again; resumable jobs skip what they finished."""
    with session_scope() as session:
        row = job_queries.get_job(session, job_id=job_id)
        if row is None:
            raise ValueError(f"no job {job_id}")
        if row.state not in (JobState.failed.value, JobState.cancelled.value):
            raise ValueError(f"job {job_id} is {row.state}; only failed or cancelled jobs can be retried")
        job_queries.reset_for_retry(session, job=row)
    if inline:
        execute(job_id)
    else:
        get_huey().execute_job(job_id)


def run_worker(*, workers: int = 2) -> None:
    """Run the huey consumer in this process until interrupted."""
    from huey.consumer import Consumer

    runtime.load_job_modules()
    recover_stale_jobs()
    Consumer(get_huey(), workers=workers, worker_type="thread", periodic=False).run()
