"""Jobs as records: a Job row per run, executed by the worker through the job runtime.

Every job kind declares the roles it needs (`@job("ingest", roles=(Role.lead,))`):
`enqueue` refuses anyone without them, and the worker refuses to run a job whose
person lost them. A job runs as its creator until someone retries it; then it
runs as the person who retried it. Only the job's owner, a lead or an admin may
cancel or retry it; both leave an audit row.

While a job runs, a heartbeat thread touches its row every few seconds, however
long an item takes. A worker recovers jobs whose worker is gone (a dead process
on this host, or no heartbeat for `job_stale_seconds`) when it starts and
periodically after: they are queued again and resume (job functions skip what
they finished), up to `MAX_ATTEMPTS` runs.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from annotation.permissions import PermissionDenied, command_line_actor, has_role, is_command_line, require
from core import jobs as runtime
from core.jobs import JobCancelled, JobContext, JobError, JobInterrupted, JobKind
from core.settings import get_settings
from core.vocabulary import JobState, Role
from db.engine import session_scope, unit_of_work, with_session
from db.models import Job, User, utcnow
from db.queries import audit
from db.queries import jobs as job_queries

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # runs a job gets before a lost worker leaves it failed (a job that kills its worker stops there)
_BOOT = uuid.uuid4().hex[:8]
_ACTIVE: set[int] = set()  # jobs this process is running now


def worker_id() -> str:
    """This process, as recorded on the jobs it runs: host, pid, and a token that tells a reused pid apart."""
    return f"{socket.gethostname()}:{os.getpid()}:{_BOOT}"


class RecordedJobContext(JobContext):
    """A JobContext that writes every report to the job's row and acts as the job's person."""

    def __init__(self, job_id: int, actor: User | None = None):
        self.job_id = job_id
        self._actor = actor

    def _update(self, change: Callable[[Job], None]) -> Job:
        with session_scope() as session:
            row = job_queries.change_job(session, job_id=self.job_id, change=change)
            if row is None:
                raise JobCancelled(f"job {self.job_id} was deleted")
        return row

    def _stop_if_asked(self, row: Job | None) -> None:
        if row is None or row.cancel_requested:
            raise JobCancelled("cancelled by request")
        if runtime.stop_requested():
            raise JobInterrupted("the worker is stopping")

    def set_total(self, total: int) -> None:
        self._update(lambda row: setattr(row, "total", int(total)))

    def advance(self, n: int = 1, message: str | None = None) -> None:
        def change(row: Job) -> None:
            row.done += n
            if message is not None:
                row.message = message

        self._stop_if_asked(self._update(change))

    def fail_item(self, name: str, reason: str) -> None:
        def change(row: Job) -> None:
            row.failed += 1
            errors = list(row.result.get("item_errors", []))
            errors.append({"item": name, "error": reason})
            row.result = {**row.result, "item_errors": errors}
            job_queries.append_log(row, f"[error] {name}: {reason}")

        self._stop_if_asked(self._update(change))

    def log(self, line: str) -> None:
        self._update(lambda row: job_queries.append_log(row, line))

    def message(self, text: str) -> None:
        self._update(lambda row: setattr(row, "message", text))

    def acting_user(self) -> User | None:
        return self._actor

    def check_cancelled(self) -> None:
        with session_scope() as session:
            self._stop_if_asked(job_queries.get_job(session, job_id=self.job_id))


class _Heartbeat:
    """Touches a running job's row every `every` seconds from its own thread, independent of progress."""

    def __init__(self, job_id: int, worker: str, every: float):
        self._job_id, self._worker, self._every = job_id, worker, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                with session_scope() as session:
                    job_queries.beat(session, job_id=self._job_id, worker=self._worker)
            except Exception:  # noqa: BLE001 — a missed beat (a busy database) is retried at the next one
                log.warning("heartbeat of job %s failed", self._job_id, exc_info=True)


def _finish(job_id: int, state: JobState, *, error: str | None = None, result: dict[str, Any] | None = None) -> None:
    with session_scope() as session:
        job_queries.finish_job(session, job_id=job_id, state=state, error=error, result=result)


def _actor(session: Session, job: Job) -> User | None:
    """Whom the job acts as: the saved user it runs as, or the command line."""
    if job.run_as_id:
        return job_queries.job_runner(session, job=job)
    if job.run_as_cli:
        return command_line_actor()
    return None


def _require_kind(spec: JobKind, user: User | None) -> User:
    return require(user, *spec.roles, action=f"running {spec.kind} jobs")


def _kind(kind: str) -> JobKind:
    known = runtime.load_job_modules()
    if kind not in known:
        raise ValueError(f"unknown job kind {kind!r}; known: {sorted(known)}")
    return known[kind]


def execute(job_id: int) -> None:
    """Run one queued job to its end state. Does nothing for a job another worker runs or that has finished."""
    _ACTIVE.add(job_id)
    try:
        _execute(job_id)
    finally:
        _ACTIVE.discard(job_id)


def _execute(job_id: int) -> None:
    if runtime.stop_requested():
        # A stopping worker may still take a message off the queue: hand it back for the next worker.
        _send(job_id)
        return
    registry = runtime.load_job_modules()
    me = worker_id()
    with session_scope() as session:
        row = job_queries.get_job(session, job_id=job_id)
        if row is None or row.state != JobState.queued.value:
            return
        if row.cancel_requested:
            job_queries.finish_job(session, job_id=job_id, state=JobState.cancelled)
            return
        spec = registry.get(row.kind)
        if spec is None:
            job_queries.finish_job(session, job_id=job_id, state=JobState.failed,
                                   error=f"unknown job kind {row.kind!r}")
            return
        actor = _actor(session, row)
        try:
            _require_kind(spec, actor)
        except PermissionDenied as refusal:
            job_queries.finish_job(session, job_id=job_id, state=JobState.failed, error=f"refused to run: {refusal}")
            return
        if not job_queries.claim_job(session, job_id=job_id, worker=me):
            return
        params = dict(row.params)
    try:
        with _Heartbeat(job_id, me, get_settings().job_heartbeat_seconds):
            result = spec.fn(RecordedJobContext(job_id, actor), **params)
    except JobCancelled:
        _finish(job_id, JobState.cancelled)
    except JobInterrupted as stop:
        with session_scope() as session:
            row = job_queries.get_job(session, job_id=job_id)
            if row is not None:
                job_queries.requeue_job(session, job=row, note=f"{stop}; it resumes on the next worker")
        _send(job_id)
    except JobError as error:
        _finish(job_id, JobState.failed, error=str(error))
    except Exception as error:  # noqa: BLE001 — a job's failure is recorded, never lost
        log.exception("job %s failed", job_id)
        _finish(job_id, JobState.failed, error=f"{type(error).__name__}: {error}",
                result={"traceback": traceback.format_exc()[-4000:]})
    else:
        _finish(job_id, JobState.done, result=result or {})


def get_huey():
    """The task queue whose tasks run `execute`."""
    return runtime.get_huey(execute)


def _send(job_id: int) -> None:
    get_huey().execute_job(job_id)


def enqueue(kind: str, *, params: dict[str, Any] | None = None, user: User | None = None) -> int:
    """Create a queued Job row, to run as `user`, and hand it to the worker. Returns the job id.

    Raises PermissionDenied when `user` lacks the roles the kind declares.
    """
    spec = _kind(kind)
    _require_kind(spec, user)
    cli = is_command_line(user)
    if user.id is None and not cli:  # type: ignore[union-attr]
        raise ValueError("a job runs as a saved user")
    with session_scope() as session:
        job_id = int(job_queries.create_job(session, kind=kind, params=params or {},
                                            created_by_id=user.id, run_as_cli=cli).id)  # type: ignore[union-attr]
    _send(job_id)
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


def may_manage(user: User | None, job: Job) -> bool:
    """Whether `user` may cancel or retry `job`: its owner, a lead or an admin."""
    if has_role(user, Role.lead):
        return True
    return user is not None and user.active and user.id is not None and user.id == job.created_by_id


def _require_manage(session: Session, *, job_id: int, actor: User | None, action: str) -> Job:
    row = job_queries.get_job(session, job_id=job_id)
    if row is None:
        raise ValueError(f"no job {job_id}")
    if not may_manage(actor, row):
        who = actor.username if actor else "nobody"
        raise PermissionDenied(f"{who} may not {action} job {job_id}: only the person who started it, "
                               "a lead or an admin may")
    return row


@unit_of_work
def cancel(session: Session, *, job_id: int, actor: User | None) -> None:
    """Ask a job to stop; a queued one is cancelled at once, a running one at its next step."""
    row = _require_manage(session, job_id=job_id, actor=actor, action="cancel")
    was = row.state
    job_queries.request_cancel(session, job_id=job_id)
    audit.record(session, user=actor, action="cancel_job", entity="job", entity_id=job_id,
                 detail={"kind": row.kind, "state": was})


@unit_of_work
def _queue_again(session: Session, *, job_id: int, actor: User | None) -> None:
    row = _require_manage(session, job_id=job_id, actor=actor, action="retry")
    _require_kind(_kind(row.kind), actor)
    if row.state not in (JobState.failed.value, JobState.cancelled.value):
        raise ValueError(f"job {job_id} is {row.state}; only failed or cancelled jobs can be retried")
    before = {"run_as_id": row.run_as_id, "run_as_cli": row.run_as_cli}
    job_queries.reset_for_retry(session, job=row, run_as_id=actor.id,  # type: ignore[union-attr]
                                run_as_cli=is_command_line(actor))
    audit.record(session, user=actor, action="retry_job", entity="job", entity_id=job_id,
                 detail={"kind": row.kind, "before": before})


def retry(*, job_id: int, actor: User | None, inline: bool = False) -> None:
    """Queue a failed or cancelled job again, to run as `actor`; resumable jobs skip what they finished."""
    _queue_again(job_id=job_id, actor=actor)
    if inline:
        execute(job_id)
    else:
        _send(job_id)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _lost_worker(job: Job, *, cutoff: datetime, me: str) -> str | None:
    """Why `job`'s worker is gone, or None while it may still be running it."""
    if job.worker == me:
        return None
    host, _, rest = (job.worker or "").partition(":")
    pid_text = rest.partition(":")[0]
    if host == socket.gethostname() and pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid() or not _pid_alive(pid):
            return f"its worker (pid {pid}) stopped"
    if job.heartbeat_at is None or job.heartbeat_at < cutoff:
        return "its worker stopped beating"
    return None


def recover_stale_jobs(*, stale_after: timedelta | None = None) -> list[int]:
    """Queue again the running jobs whose worker is gone; their ids. A job that lost `MAX_ATTEMPTS` workers fails."""
    stale_after = stale_after if stale_after is not None else timedelta(seconds=get_settings().job_stale_seconds)
    cutoff = utcnow() - stale_after
    me = worker_id()
    recovered, to_send = [], []
    with session_scope() as session:
        for row in job_queries.running_jobs(session):
            reason = _lost_worker(row, cutoff=cutoff, me=me)
            if reason is None:
                continue
            recovered.append(int(row.id))
            if row.attempts >= MAX_ATTEMPTS:
                job_queries.finish_job(session, job_id=int(row.id), state=JobState.failed,
                                       error=f"{reason} while running this job, {row.attempts} times; "
                                             "retry it once the cause is fixed")
            else:
                job_queries.requeue_job(session, job=row, note=f"{reason}; recovered by {me}")
                to_send.append(int(row.id))
    for job_id in to_send:
        _send(job_id)
    if recovered:
        log.warning("recovered job(s) %s whose worker stopped", recovered)
    return recovered


def _resend_queued() -> None:
    """Put every queued job on the queue again: a worker killed between taking a message and starting its job
    loses the message. Running a job twice is impossible (`claim_job`), so a duplicate message is harmless."""
    with session_scope() as session:
        waiting = job_queries.queued_job_ids(session)
    for job_id in waiting:
        _send(job_id)


@with_session
def stale_running_jobs(session: Session) -> list[Job]:
    """Running jobs without a recent heartbeat (no worker is recovering them: is one running?)."""
    cutoff = utcnow() - timedelta(seconds=get_settings().job_stale_seconds)
    return [row for row in job_queries.running_jobs(session) if row.heartbeat_at is None or row.heartbeat_at < cutoff]


def _recover_periodically(stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        try:
            recover_stale_jobs()
        except Exception:  # noqa: BLE001 — the next round tries again
            log.warning("recovering stale jobs failed", exc_info=True)


def run_worker(*, workers: int = 2) -> None:
    """Run the huey consumer in this process until told to stop (SIGTERM/SIGINT stop running work too)."""
    from huey.consumer import Consumer

    class _StoppingConsumer(Consumer):
        # huey's own handler only flags its main loop. On SIGTERM/SIGINT the work in flight stops too (process
        # pools are killed; jobs put themselves back in the queue) and no thread takes another message.
        def _handle_signal(self, signum, frame):  # noqa: ANN001, ANN202
            if signum in (signal.SIGTERM, signal.SIGINT):
                runtime.request_stop()
                self.stop_flag.set()
            super()._handle_signal(signum, frame)

    runtime.load_job_modules()
    recover_stale_jobs()
    _resend_queued()
    stop = threading.Event()
    watcher = threading.Thread(target=_recover_periodically, args=(stop, get_settings().job_stale_seconds / 2),
                               name="recover-stale-jobs", daemon=True)
    watcher.start()
    try:
        _StoppingConsumer(get_huey(), workers=workers, worker_type="thread", periodic=False).run()
    finally:
        stop.set()
        # Give interrupted jobs a moment to put themselves back in the queue before the process ends.
        deadline = time.monotonic() + 10
        while _ACTIVE and time.monotonic() < deadline:
            time.sleep(0.05)
