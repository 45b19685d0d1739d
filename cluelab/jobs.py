"""Background jobs: a Job row per run, executed by a huey worker.

huey stores its queue in a SQLite file in the data directory by default and in
Redis when REDIS_URL is set. Job functions register with `@job("kind")`, take a
`JobContext` and keyword parameters, and report progress through the context;
every update commits at once so pages see it. A worker that dies leaves its
job `running` with a stale heartbeat: `recover_stale_jobs` marks it failed and
`retry` queues it again (job functions are resumable: they skip finished items).
"""

from __future__ import annotations

import importlib
import logging
import traceback
from collections.abc import Callable
from datetime import timedelta
from functools import lru_cache
from typing import Any

from sqlmodel import Session, select

from annotation.vocabulary import JobState
from cluelab.settings import get_settings
from db.engine import get_engine
from db.models import Job, User, utcnow

log = logging.getLogger(__name__)

# Modules whose import registers job kinds; the worker imports them all.
JOB_MODULES = ["annotation.ingest_jobs", "annotation.adjudication_jobs", "annotation.formats.jobs", "model.jobs"]

LOG_LIMIT = 20_000  # characters of log kept on the row (the tail)
HEARTBEAT_EVERY = timedelta(seconds=5)
STALE_AFTER = timedelta(minutes=2)

JobFunction = Callable[..., dict[str, Any] | None]
_REGISTRY: dict[str, JobFunction] = {}


class JobCancelled(Exception):
    """Raised inside a job when someone asked to cancel it."""


def job(kind: str) -> Callable[[JobFunction], JobFunction]:
    """Register `fn(ctx, **params)` as the function for jobs of `kind`."""

    def register(fn: JobFunction) -> JobFunction:
        _REGISTRY[kind] = fn
        return fn

    return register


def load_job_modules() -> dict[str, JobFunction]:
    for name in JOB_MODULES:
        importlib.import_module(name)
    return dict(_REGISTRY)


class JobContext:
    """What a running job uses to report: totals, progress, item errors, log, cancellation."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self._last_beat = utcnow() - HEARTBEAT_EVERY

    def _update(self, change: Callable[[Job], None]) -> Job:
        with Session(get_engine(), expire_on_commit=False) as session:
            row = session.get(Job, self.job_id)
            if row is None:
                raise JobCancelled(f"job {self.job_id} was deleted")
            change(row)
            row.heartbeat_at = utcnow()
            session.add(row)
            session.commit()
            self._last_beat = row.heartbeat_at
            return row

    def set_total(self, total: int) -> None:
        self._update(lambda row: setattr(row, "total", int(total)))

    def advance(self, n: int = 1, message: str | None = None) -> None:
        def change(row: Job) -> None:
            row.done += n
            if message is not None:
                row.message = message

        row = self._update(change)
        if row.cancel_requested:
            raise JobCancelled("cancelled by request")

    def fail_item(self, name: str, reason: str) -> None:
        """Record one item that failed; the job goes on."""

        def change(row: Job) -> None:
            row.failed += 1
            errors = list(row.result.get("item_errors", []))
            errors.append({"item": name, "error": reason})
            row.result = {**row.result, "item_errors": errors}
            row.log = (row.log + f"[error] {name}: {reason}\n")[-LOG_LIMIT:]

        row = self._update(change)
        if row.cancel_requested:
            raise JobCancelled("cancelled by request")

    def log(self, line: str) -> None:
        self._update(lambda row: setattr(row, "log", (row.log + line.rstrip() + "\n")[-LOG_LIMIT:]))

    def message(self, text: str) -> None:
        self._update(lambda row: setattr(row, "message", text))

    def acting_user(self) -> User | None:
        """Who queued the job: domain calls inside it check that person's roles."""
        with Session(get_engine(), expire_on_commit=False) as session:
            row = session.get(Job, self.job_id)
            return session.get(User, row.created_by_id) if row and row.created_by_id else None

    def check_cancelled(self) -> None:
        with Session(get_engine()) as session:
            row = session.get(Job, self.job_id)
            if row is None or row.cancel_requested:
                raise JobCancelled("cancelled by request")
        if utcnow() - self._last_beat >= HEARTBEAT_EVERY:
            self._update(lambda row: None)


def _finish(job_id: int, state: JobState, *, error: str | None = None, result: dict[str, Any] | None = None) -> None:
    with Session(get_engine()) as session:
        row = session.get(Job, job_id)
        if row is None:
            return
        row.state = state.value
        row.finished_at = utcnow()
        row.error = error
        if result:
            row.result = {**row.result, **result}
        if error:
            row.log = (row.log + f"[failed] {error}\n")[-LOG_LIMIT:]
        session.add(row)
        session.commit()


def execute(job_id: int) -> None:
    """Run one job to its end state. Safe to call for a job already finished (does nothing)."""
    registry = load_job_modules()
    with Session(get_engine()) as session:
        row = session.get(Job, job_id)
        if row is None or row.state not in (JobState.queued.value, JobState.running.value):
            return
        if row.cancel_requested:
            row.state = JobState.cancelled.value
            row.finished_at = utcnow()
            session.add(row)
            session.commit()
            return
        fn = registry.get(row.kind)
        if fn is None:
            kind = row.kind
            session.close()
            _finish(job_id, JobState.failed, error=f"unknown job kind {kind!r}")
            return
        row.state = JobState.running.value
        row.started_at = row.started_at or utcnow()
        row.heartbeat_at = utcnow()
        row.error = None
        params = dict(row.params)
        session.add(row)
        session.commit()
    try:
        result = fn(JobContext(job_id), **params)
    except JobCancelled:
        _finish(job_id, JobState.cancelled)
    except Exception as error:  # noqa: BLE001 — a job's failure is recorded, never lost
        log.exception("job %s failed", job_id)
        _finish(job_id, JobState.failed, error=f"{type(error).__name__}: {error}",
                result={"traceback": traceback.format_exc()[-4000:]})
    else:
        _finish(job_id, JobState.done, result=result or {})


@lru_cache(maxsize=2)
def _huey_for(data_dir: str, redis_url: str | None):
    from huey import RedisHuey, SqliteHuey

    if redis_url:
        queue = RedisHuey("cluelab", url=redis_url)
    else:
        queue = SqliteHuey("cluelab", filename=f"{data_dir}/queue.db")
    # Calling this wrapper puts a job id on the queue; the worker runs `execute`.
    queue.execute_job = queue.task(name="cluelab.execute_job")(execute)
    return queue


def get_huey():
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return _huey_for(str(settings.data_dir), settings.redis_url)


def enqueue(kind: str, *, params: dict[str, Any] | None = None, user: User | None = None,
            session: Session | None = None) -> int:
    """Create a queued Job row and hand it to the worker. Returns the job id."""
    load_job_modules()
    if kind not in _REGISTRY:
        raise ValueError(f"unknown job kind {kind!r}; known: {sorted(_REGISTRY)}")
    row = Job(kind=kind, params=params or {}, created_by_id=user.id if user else None)
    if session is None:
        with Session(get_engine(), expire_on_commit=False) as own:
            own.add(row)
            own.commit()
    else:
        session.add(row)
        session.commit()
    get_huey().execute_job(int(row.id))
    return int(row.id)


def run_job_inline(job_id: int) -> Job:
    """Run a queued job in this process (tests, the CLI's --wait)."""
    execute(job_id)
    with Session(get_engine(), expire_on_commit=False) as session:
        return session.get(Job, job_id)  # type: ignore[return-value]


def get_job(job_id: int) -> Job | None:
    with Session(get_engine(), expire_on_commit=False) as session:
        return session.get(Job, job_id)


def list_jobs(*, limit: int = 50, kind: str | None = None) -> list[Job]:
    with Session(get_engine(), expire_on_commit=False) as session:
        query = select(Job).order_by(Job.id.desc()).limit(limit)  # type: ignore[union-attr]
        if kind:
            query = query.where(Job.kind == kind)
        return list(session.exec(query).all())


def cancel(job_id: int) -> None:
    """Ask a job to stop; a queued one is cancelled at once, a running one at its next step."""
    with Session(get_engine()) as session:
        row = session.get(Job, job_id)
        if row is None:
            return
        row.cancel_requested = True
        if row.state == JobState.queued.value:
            row.state = JobState.cancelled.value
            row.finished_at = utcnow()
        session.add(row)
        session.commit()


def recover_stale_jobs(*, stale_after: timedelta = STALE_AFTER) -> list[int]:
    """Mark running jobs whose worker stopped beating as failed, so they can be retried."""
    cutoff = utcnow() - stale_after
    recovered = []
    with Session(get_engine()) as session:
        for row in session.exec(select(Job).where(Job.state == JobState.running.value)).all():
            if row.heartbeat_at is None or row.heartbeat_at < cutoff:
                row.state = JobState.failed.value
                row.error = "the worker stopped while running this job; retry to finish it"
                row.finished_at = utcnow()
                session.add(row)
                recovered.append(int(row.id))
        session.commit()
    return recovered


def retry(job_id: int, *, inline: bool = False) -> None:
    """Queue a failed or cancelled job again; resumable jobs skip what they finished."""
    with Session(get_engine()) as session:
        row = session.get(Job, job_id)
        if row is None:
            raise ValueError(f"no job {job_id}")
        if row.state not in (JobState.failed.value, JobState.cancelled.value):
            raise ValueError(f"job {job_id} is {row.state}; only failed or cancelled jobs can be retried")
        row.state = JobState.queued.value
        row.cancel_requested = False
        row.error = None
        # Resumable jobs count only what is left; earlier item errors are retried too.
        row.done = row.failed = row.total = 0
        row.result = {}
        row.finished_at = None
        row.log = (row.log + "[retry]\n")[-LOG_LIMIT:]
        session.add(row)
        session.commit()
    if inline:
        execute(job_id)
    else:
        get_huey().execute_job(job_id)


def run_worker(*, workers: int = 2) -> None:
    """Run the huey consumer in this process until interrupted."""
    from huey.consumer import Consumer

    load_job_modules()
    recover_stale_jobs()
    Consumer(get_huey(), workers=workers, worker_type="thread", periodic=False).run()
