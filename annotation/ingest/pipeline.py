"""Ingest: process the media of imported clips in parallel, resumably, side by side with other runs.

Each clip is claimed before its media is processed (pending → processing in one
UPDATE: `db.queries.clips.claim_clip`), so two runs on one dataset share the
work instead of doing it twice. A run renews its claims while it works; a dead
run's claims are taken over after `ingest_claim_timeout_seconds`, and a resumed
job takes its own back at once. Work runs in a process pool (ffmpeg does the
heavy lifting; Python only orchestrates); the parent writes each result to the
database as it arrives. Derived files live under
`<data_dir>/media/<content hash prefix>/`, shared by identical files.

Pool processes die with the run (Linux parent-death signal; killed at once when
a worker is told to stop), and unfinished claims go back to pending. A fault of
the server (disk full, read-only or unwritable folder) stops the run with
`IngestStopped` and leaves the clips pending; only a bad file puts a clip in error.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session

from annotation.ingest.media import (
    Limits,
    MediaError,
    MediaResult,
    ServerFault,
    die_with_parent,
    file_hash,
    process_file,
    validate_file,
)
from annotation.permissions import require
from core import jobs as runtime
from core.jobs import JobError, JobInterrupted
from core.settings import Settings, get_settings
from core.vocabulary import Role
from db.engine import get_engine, write_transaction
from db.models import User, utcnow
from db.queries import clips as clip_queries

# (clip name, error or None) after each clip.
ProgressCallback = Callable[[str, str | None], None]


class IngestStopped(JobError):
    """The server cannot process media now (disk full, read-only folder): the clips stay pending."""


@dataclass
class IngestReport:
    ready: int = 0
    failed: int = 0
    skipped: int = 0  # taken by another run meanwhile
    errors: dict[str, str] = field(default_factory=dict)


# --- the pool's processes live and die with the run ------------------------------------------------

_POOLS: set[ProcessPoolExecutor] = set()


def _pool_processes(pool: ProcessPoolExecutor) -> list:
    return list((getattr(pool, "_processes", None) or {}).values())  # the stdlib keeps no public list


@runtime.on_stop
def _kill_pools() -> None:
    """A worker told to stop ends the media processes at once (they hold no state worth waiting for)."""
    for pool in list(_POOLS):
        for process in _pool_processes(pool):
            with contextlib.suppress(Exception):
                process.kill()


def _child_init(parent_pid: int) -> None:
    # Ctrl-C reaches the whole process group: the parent decides. SIGTERM must kill, not run the
    # worker's handler that fork copied in (which only sets a flag, so the process would ignore it).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before we asked to follow it
        os._exit(1)


def _new_pool(width: int) -> ProcessPoolExecutor:
    pool = ProcessPoolExecutor(max_workers=width, initializer=_child_init, initargs=(os.getpid(),))
    _POOLS.add(pool)
    return pool


def _close_pool(pool: ProcessPoolExecutor, *, kill: bool) -> None:
    if kill:
        for process in _pool_processes(pool):
            with contextlib.suppress(Exception):
                process.kill()
    pool.shutdown(wait=True, cancel_futures=True)
    _POOLS.discard(pool)


# --- one clip, in a pool process -------------------------------------------------------------------


def _process_one(source: str, data_dir: str, known_hash: str | None, limits: Limits, tag: str) -> MediaResult:
    source_path = Path(source)
    try:
        validate_file(source_path, max_bytes=limits.max_bytes)  # size first: never hash a file that is refused
        digest = known_hash or file_hash(source_path)
    except OSError as error:
        fault = ServerFault.from_os_error(error)
        if fault is None:
            raise
        raise fault from None
    out = Path(data_dir) / "media" / digest[:16]
    return process_file(source_path, out, max_bytes=limits.max_bytes, content_hash=digest, limits=limits, tag=tag)


def _sweep_partials(media_dir: Path, *, owner: str, older_than: float) -> None:
    """Remove temporary folders of this run's earlier attempts, and anyone's older than a claim lives."""
    if not media_dir.is_dir():
        return
    cutoff = time.time() - older_than
    for entry in media_dir.glob("*.partial*"):
        with contextlib.suppress(OSError):
            if f".partial-{owner}-" in entry.name or entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)


# --- the run ---------------------------------------------------------------------------------------


class _Claims:
    """The database side of a run: claim, renew, record and release clips for `owner`."""

    def __init__(self, *, owner: str, timeout: float, retry_errors: bool):
        self.owner, self.timeout, self.retry_errors = owner, timeout, retry_errors
        self.engine = get_engine()

    def _stale_before(self):  # noqa: ANN202
        return utcnow() - timedelta(seconds=self.timeout)

    def claim(self, clip_id: int) -> tuple[str, str | None] | None:
        with Session(self.engine, expire_on_commit=False) as session, write_transaction(session):
            clip = clip_queries.claim_clip(session, clip_id=clip_id, owner=self.owner,
                                           stale_before=self._stale_before(), retry_errors=self.retry_errors)
            return (str(clip.source_path), clip.content_hash) if clip else None

    def renew(self, clip_ids: list[int]) -> None:
        with Session(self.engine) as session, write_transaction(session):
            clip_queries.renew_claims(session, clip_ids=clip_ids, owner=self.owner)

    def release(self, clip_ids: list[int]) -> None:
        with Session(self.engine) as session, write_transaction(session):
            clip_queries.release_claims(session, clip_ids=clip_ids, owner=self.owner)

    def record(self, clip_id: int, *, media: MediaResult | None = None, error: str | None = None) -> bool:
        """Store a result while the claim is still ours; False when another run took the clip over."""
        with Session(self.engine) as session, write_transaction(session):
            clip = clip_queries.claimed_clip(session, clip_id=clip_id, owner=self.owner)
            if clip is None:
                return False
            if media is not None:
                clip_queries.mark_ingested(session, clip=clip, media=media)
            else:
                clip_queries.mark_failed(session, clip=clip, reason=error or "failed")
            return True


def ingest_clips(*, actor: User | None, dataset_id: int | None = None, clip_ids: list[int] | None = None,
                 workers: int | None = None, on_total: Callable[[int], None] | None = None,
                 on_progress: ProgressCallback | None = None, on_skip: Callable[[str], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, claim_owner: str | None = None) -> IngestReport:
    """Process every clip still waiting (in a dataset, or the given ids, which may be in error). Leads only.

    Done clips are skipped, so a second run resumes; clips another run holds are left to it (`on_skip`).
    `claim_owner` names the run (a job passes its id, so its retry takes its own claims back at once).
    Raises IngestStopped when the server cannot write media (the clips stay pending), and JobInterrupted
    when the worker is told to stop.
    """
    require(actor, Role.lead, action="processing media")
    settings = get_settings()
    owner = claim_owner or f"run-{uuid.uuid4().hex[:16]}"
    claims = _Claims(owner=owner, timeout=settings.ingest_claim_timeout_seconds, retry_errors=bool(clip_ids))
    _sweep_partials(settings.media_dir, owner=owner, older_than=settings.ingest_claim_timeout_seconds)
    with Session(claims.engine) as session:
        todo = deque((int(c.id), c.name) for c in clip_queries.clips_to_ingest(
            session, dataset_id=dataset_id, clip_ids=clip_ids, owner=owner, stale_before=claims._stale_before()))
    if on_total:
        on_total(len(todo))
    report = IngestReport()
    if not todo:
        return report
    run = _Run(claims=claims, settings=settings, todo=todo, report=report, width=min(workers or settings.ingest_workers,
               len(todo)), on_progress=on_progress, on_skip=on_skip, should_stop=should_stop)
    try:
        run.go()
    finally:
        _sweep_partials(settings.media_dir, owner=owner, older_than=settings.ingest_claim_timeout_seconds)
    if run.interrupted:
        raise JobInterrupted("the worker is stopping")
    if run.fault is not None:
        raise IngestStopped(f"media processing stopped: {run.fault.describe()}. The clips not processed yet stay "
                            "pending; fix this on the server, then run the ingest again (retry the job).")
    return report


class _Run:
    """One ingest run's loop: claim a clip when a pool slot is free, record results as they come."""

    def __init__(self, *, claims: _Claims, settings: Settings, todo: deque, report: IngestReport, width: int,
                 on_progress: ProgressCallback | None, on_skip: Callable[[str], None] | None,
                 should_stop: Callable[[], bool] | None):
        self.claims, self.todo, self.report, self.width = claims, todo, report, width
        self.on_progress, self.on_skip, self.should_stop = on_progress, on_skip, should_stop
        self.data_dir = str(settings.data_dir)
        self.limits = Limits(max_bytes=settings.max_media_bytes, max_duration=settings.max_duration_seconds,
                             max_frames=settings.max_frames_per_clip)
        self.renew_every = claims.timeout / 3
        self.in_flight: dict[Future, tuple[int, str]] = {}
        # Clips that were in flight when a pool process crashed: retried one at a time to find the culprit.
        self.suspects: set[int] = set()
        self.fault: ServerFault | None = None
        self.interrupted = False

    def go(self) -> None:
        pool = _new_pool(self.width)
        next_renewal = time.monotonic() + self.renew_every
        finished = False
        try:
            while True:
                pool = self._fill(pool)
                if not self.in_flight:
                    break
                done, _ = wait(self.in_flight, timeout=min(self.renew_every, 2.0), return_when=FIRST_COMPLETED)
                if time.monotonic() >= next_renewal:
                    self.claims.renew([clip_id for clip_id, _ in self.in_flight.values()])
                    next_renewal = time.monotonic() + self.renew_every
                if any(isinstance(f.exception(), BrokenProcessPool) for f in done if not f.cancelled()):
                    pool = self._recover_from_crash(pool)
                else:
                    for future in done:
                        self._record(future)
                if runtime.stop_requested() or (self.should_stop and self.should_stop()):
                    break
            finished = not self.in_flight
            # Stopped with work left (in flight, or never started because the worker is stopping): resume later.
            self.interrupted = runtime.stop_requested() and bool(self.todo or self.in_flight)
        finally:
            # Whatever did not finish goes back to pending for the next run; its processes go now.
            self.claims.release([clip_id for clip_id, _ in self.in_flight.values()])
            _close_pool(pool, kill=not finished)

    def _fill(self, pool: ProcessPoolExecutor) -> ProcessPoolExecutor:
        capacity = 1 if self.suspects else self.width
        while self.todo and len(self.in_flight) < capacity and self.fault is None and not runtime.stop_requested():
            clip_id, name = self.todo.popleft()
            claimed = self.claims.claim(clip_id)
            if claimed is None:
                self.report.skipped += 1
                if self.on_skip:
                    self.on_skip(name)
                continue
            source, digest = claimed
            try:
                future = pool.submit(_process_one, source, self.data_dir, digest, self.limits, self.claims.owner)
            except BrokenProcessPool:  # the worker is stopping (its processes were killed) or one crashed
                self.claims.release([clip_id])
                self.todo.appendleft((clip_id, name))
                if runtime.stop_requested():
                    break
                _close_pool(pool, kill=True)
                pool = _new_pool(self.width)
                continue
            self.in_flight[future] = (clip_id, name)
        return pool

    def _record(self, future: Future) -> None:
        clip_id, name = self.in_flight.pop(future)
        error: str | None = None
        media: MediaResult | None = None
        try:
            media = future.result()
        except MediaError as failure:
            error = str(failure)
        except ServerFault as fault:
            self.fault = self.fault or fault
            self.claims.release([clip_id])
            return
        except CancelledError:
            self.claims.release([clip_id])
            return
        except Exception as failure:  # noqa: BLE001 — one bad file never stops the batch
            error = f"unexpected error: {type(failure).__name__}: {failure}"
        self.suspects.discard(clip_id)
        if not self.claims.record(clip_id, media=media, error=error):
            self.report.skipped += 1  # another run took it over and records it
            if self.on_skip:
                self.on_skip(name)
            return
        if error is None:
            self.report.ready += 1
        else:
            self.report.failed += 1
            self.report.errors[name] = error
        if self.on_progress:
            self.on_progress(name, error)

    def _recover_from_crash(self, pool: ProcessPoolExecutor) -> ProcessPoolExecutor:
        """A pool process died. When stopping, that was us. Otherwise a file may crash the decoder: a clip that
        crashed the pool alone is in error; the others in flight are retried, one at a time."""
        wait(self.in_flight)  # a broken pool fails every future at once
        crashed = dict(self.in_flight)
        self.in_flight.clear()
        if runtime.stop_requested():
            self.in_flight = crashed  # released by go()
            return pool
        for future, (clip_id, name) in crashed.items():
            if not isinstance(future.exception(), BrokenProcessPool):
                self.in_flight[future] = (clip_id, name)
                self._record(future)
            elif clip_id in self.suspects and len(crashed) == 1:
                self.in_flight[future] = (clip_id, name)
                self._record_crash(future, clip_id, name)
            else:
                self.suspects.add(clip_id)
                self.claims.release([clip_id])
                self.todo.appendleft((clip_id, name))
        _close_pool(pool, kill=True)
        return _new_pool(self.width)

    def _record_crash(self, future: Future, clip_id: int, name: str) -> None:
        self.in_flight.pop(future)
        self.suspects.discard(clip_id)
        error = "the media process crashed on this file (a damaged or hostile file, or out of memory)"
        if self.claims.record(clip_id, error=error):
            self.report.failed += 1
            self.report.errors[name] = error
            if self.on_progress:
                self.on_progress(name, error)
