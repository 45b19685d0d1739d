"""The job runtime: job kinds, the context a job reports through, and the task queue.

Job functions register with `@job("kind", roles=(Role.lead,))`, take a
`JobContext` and keyword parameters, and report progress through the context.
The roles are who may queue (and, at run time, run) a job of that kind. The
queue (huey) carries only job ids: SQLite storage in the data directory by
default, Redis when REDIS_URL is set. What a job *is* (its row, state and log)
is kept by `annotation.jobs`, which plugs `execute` in here; this module imports
nothing of ClueLab's but settings and the vocabulary.

A worker that is told to stop (SIGTERM, SIGINT) calls `request_stop()`: the
stop hooks that job code registered (e.g. ingest's process pools) run at once,
and `stop_requested()` tells a job to end with `JobInterrupted`, so it is
queued again and resumes on the next worker.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from core.settings import get_settings
from core.vocabulary import Role

# Modules whose import registers job kinds; the worker imports them all.
JOB_MODULES = ["annotation.ingest.jobs", "annotation.labelling.jobs", "annotation.formats.jobs", "annotation.study_jobs",
               "model.jobs", "model.emotion_llm.jobs"]

JobFunction = Callable[..., dict[str, Any] | None]


@dataclass(frozen=True)
class JobKind:
    """A registered job kind: its function and the roles a person needs to queue or run it (admins hold all)."""

    kind: str
    fn: JobFunction
    roles: tuple[Role, ...]


_REGISTRY: dict[str, JobKind] = {}


class JobCancelled(Exception):
    """Raised inside a job when someone asked to cancel it."""


class JobError(Exception):
    """A job's failure told in words for the person who queued it (recorded without a traceback)."""


class JobInterrupted(Exception):
    """The worker is stopping: the job is queued again and resumes (skipping finished items) on the next one."""


def job(kind: str, *, roles: Iterable[Role]) -> Callable[[JobFunction], JobFunction]:
    """Register `fn(ctx, **params)` as the function for jobs of `kind`, which people holding `roles` may run."""
    needed = tuple(Role(r) for r in roles)
    if not needed:
        raise ValueError(f"job kind {kind!r} must declare the roles that may run it")

    def register(fn: JobFunction) -> JobFunction:
        _REGISTRY[kind] = JobKind(kind=kind, fn=fn, roles=needed)
        return fn

    return register


def load_job_modules() -> dict[str, JobKind]:
    """Every registered job kind, after importing the modules that define them."""
    for name in JOB_MODULES:
        importlib.import_module(name)
    return dict(_REGISTRY)


# --- stopping a worker -----------------------------------------------------------------------------

_STOP = threading.Event()
_STOP_HOOKS: list[Callable[[], None]] = []


def on_stop(hook: Callable[[], None]) -> Callable[[], None]:
    """Run `hook` when the worker is told to stop (from a signal handler: keep it short, no locks)."""
    _STOP_HOOKS.append(hook)
    return hook


def request_stop() -> None:
    """The worker is stopping: flag it and run the stop hooks (each one's failure is its own)."""
    _STOP.set()
    for hook in list(_STOP_HOOKS):
        with contextlib.suppress(Exception):  # one hook's failure must not keep the others from running
            hook()


def stop_requested() -> bool:
    return _STOP.is_set()


class JobContext(ABC):
    """What a running job uses to report: totals, progress, item errors, log, cancellation."""

    job_id: int

    @abstractmethod
    def set_total(self, total: int) -> None: ...

    @abstractmethod
    def advance(self, n: int = 1, message: str | None = None) -> None:
        """Count `n` items done; raises JobCancelled when a cancel was asked for."""

    @abstractmethod
    def fail_item(self, name: str, reason: str) -> None:
        """Record one item that failed; the job goes on."""

    @abstractmethod
    def log(self, line: str) -> None: ...

    @abstractmethod
    def message(self, text: str) -> None: ...

    @abstractmethod
    def acting_user(self) -> Any:
        """Who queued the job: domain calls inside it check that person's roles."""

    @abstractmethod
    def check_cancelled(self) -> None:
        """Raise JobCancelled when a cancel was asked for; beat the heartbeat."""


@lru_cache(maxsize=8)
def _huey_for(data_dir: str, redis_url: str | None, name: str, executor: Callable[[int], None]):
    from huey import RedisHuey, SqliteHuey

    # The name keys everything huey stores in Redis, so installs (and tests) sharing one Redis stay apart.
    queue = RedisHuey(name, url=redis_url) if redis_url else SqliteHuey(name, filename=f"{data_dir}/queue.db")
    # Calling this wrapper puts a job id on the queue; the worker runs `executor(job_id)`.
    queue.execute_job = queue.task(name="cluelab.execute_job")(executor)
    return queue


def get_huey(executor: Callable[[int], None]):
    """The task queue for the configured data dir or Redis, running `executor(job_id)` per task."""
    settings = get_settings()
    if not settings.redis_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return _huey_for(str(settings.data_dir), settings.redis_url, settings.queue_name, executor)
