"""The job runtime: job kinds, the context a job reports through, and the task queue.

Job functions register with `@job("kind")`, take a `JobContext` and keyword
parameters, and report progress through the context. The queue (huey) carries
only job ids: SQLite storage in the data directory by default, Redis when
REDIS_URL is set. What a job *is* (its row, state and log) is kept by
`annotation.jobs`, which plugs `execute` in here; this module imports nothing
of ClueLab's but settings.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from core.settings import get_settings

# Modules whose import registers job kinds; the worker imports them all.
JOB_MODULES = ["annotation.ingest.jobs", "annotation.labelling.jobs", "annotation.formats.jobs", "model.jobs",
               "model.emotion_llm.jobs"]

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
    """Every registered job kind, after importing the modules that define them."""
    for name in JOB_MODULES:
        importlib.import_module(name)
    return dict(_REGISTRY)


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


@lru_cache(maxsize=4)
def _huey_for(data_dir: str, redis_url: str | None, executor: Callable[[int], None], name: str = "cluelab"):
    from huey import RedisHuey, SqliteHuey

    queue = RedisHuey(name, url=redis_url) if redis_url else SqliteHuey(name, filename=f"{data_dir}/queue.db")
    # Calling this wrapper puts a job id on the queue; the worker runs `executor(job_id)`.
    queue.execute_job = queue.task(name="cluelab.execute_job")(executor)
    return queue


def get_huey(executor: Callable[[int], None]):
    """The task queue for the configured data dir or Redis, running `executor(job_id)` per task."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return _huey_for(str(settings.data_dir), settings.redis_url, executor, settings.queue_name)
