"""Jobs through a real worker process, on SQLite and Redis queues: progress, per-item errors, a worker killed
or stopped mid-ingest (its pool goes with it, the job resumes on the next worker), heartbeats without progress."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
from sqlmodel import Session, select

from annotation import jobs
from annotation.ingest.importer import import_parsed, scan_folder
from cluelab.bootstrap import init_database
from core.jobs import JobContext, job
from core.settings import get_settings
from core.vocabulary import ClipStatus, JobState, Role
from db.engine import get_engine
from db.models import Clip, Dataset, Job, User, utcnow
from tests.media_factory import make_video

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("CLUELAB_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture(params=["sqlite", "redis"])
def queue(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The huey queue on SQLite (the data dir) or on Redis under a name (key prefix) of this test's own."""
    if request.param == "redis":
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        try:
            client.ping()
        except redis.exceptions.ConnectionError:
            pytest.skip(f"no Redis at {REDIS_URL}")
        name = f"cluelab-test-{uuid.uuid4().hex[:12]}"
        monkeypatch.setenv("REDIS_URL", REDIS_URL)
        monkeypatch.setenv("CLUELAB_QUEUE_NAME", name)
        get_settings.cache_clear()
        yield "redis"
        for key in client.scan_iter(match=f"*{name}*"):
            client.delete(key)
        client.close()
    else:
        yield "sqlite"


@pytest.fixture
def lead() -> User:
    init_database()
    with Session(get_engine(), expire_on_commit=False) as session:
        user = User(username="lead", password_hash="!", roles=[Role.lead.value])
        session.add(user)
        session.commit()
        return user


def _import_folder(folder: Path, lead: User) -> int:
    with Session(get_engine(), expire_on_commit=False) as session:
        dataset = Dataset(name="jobs")
        session.add(dataset)
        session.commit()
        import_parsed(session, dataset=dataset, parsed=scan_folder(folder), user=lead)
        session.commit()
        return int(dataset.id)


def _start_worker(extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    env = {**os.environ, "CLUELAB_JOB_HEARTBEAT_SECONDS": "0.5", "CLUELAB_JOB_STALE_SECONDS": "30",
           **(extra_env or {})}
    return subprocess.Popen([sys.executable, "-m", "cluelab.cli", "worker", "--workers", "1"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _wait_for(predicate, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def _stop(worker: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    living = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                living.append(process)
    return living


def _slow_dataset(tmp_path: Path, lead: User, clips: int = 6) -> int:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(clips):
        make_video(folder / f"clip_{i}.mp4", seconds=4.0, size="640x480", tone_hz=200 + 50 * i)
    return _import_folder(folder, lead)


def _statuses() -> list[str]:
    with Session(get_engine()) as session:
        return [c.status for c in session.exec(select(Clip)).all()]


def test_worker_runs_a_job_with_progress_and_records_a_bad_clip(tmp_path: Path, queue: str, lead: User):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        make_video(folder / f"ok_{i}.mp4", seconds=1.0, tone_hz=300 + 50 * i)
    (folder / "broken.mp4").write_text("garbage" * 100)
    dataset_id = _import_folder(folder, lead)

    job_id = jobs.enqueue("ingest", params={"dataset_id": dataset_id}, user=lead)
    assert jobs.get_job(job_id).state == JobState.queued.value
    worker = _start_worker()
    try:
        row = _wait_for(lambda: (j := jobs.get_job(job_id)) and j.state in ("done", "failed") and j)
    finally:
        _stop(worker)
    assert row.state == JobState.done.value, row.error
    assert (row.total, row.done, row.failed) == (4, 3, 1)
    assert row.result["item_errors"][0]["item"] == "broken"
    assert "not a readable media file" in row.result["item_errors"][0]["error"]
    assert row.result["ready"] == 3 and "[error] broken" in row.log


@pytest.mark.slow  # real worker processes, started twice
def test_a_killed_worker_takes_its_pool_along_and_the_next_worker_resumes_the_job(tmp_path: Path, queue: str,
                                                                                   lead: User):
    dataset_id = _slow_dataset(tmp_path, lead)
    job_id = jobs.enqueue("ingest", params={"dataset_id": dataset_id}, user=lead)
    worker = _start_worker({"CLUELAB_INGEST_WORKERS": "1"})
    try:
        _wait_for(lambda: (j := jobs.get_job(job_id)) and j.state == "running" and j.done >= 1)
        children = _wait_for(lambda: psutil.Process(worker.pid).children(recursive=True))
        os.kill(worker.pid, signal.SIGKILL)  # the worker only, as the OOM killer would
        worker.wait(timeout=10)
        _wait_for(lambda: not _alive(children), timeout=10)
    finally:
        _stop(worker)
    interrupted = jobs.get_job(job_id)
    assert interrupted.state == JobState.running.value and interrupted.done < 6

    second = _start_worker()
    try:
        finished = _wait_for(lambda: (j := jobs.get_job(job_id)) and j.state in ("done", "failed") and j)
    finally:
        _stop(second)
    assert finished.state == JobState.done.value, finished.error
    assert finished.attempts == 2 and "[requeued]" in finished.log
    assert finished.done == 6 - interrupted.done and finished.failed == 0
    assert set(_statuses()) == {ClipStatus.ready.value}


@pytest.mark.slow  # real worker processes, started twice
def test_sigterm_stops_the_pool_and_the_job_resumes_later(tmp_path: Path, queue: str, lead: User):
    dataset_id = _slow_dataset(tmp_path, lead)
    job_id = jobs.enqueue("ingest", params={"dataset_id": dataset_id}, user=lead)
    worker = _start_worker({"CLUELAB_INGEST_WORKERS": "2"})
    try:
        _wait_for(lambda: (j := jobs.get_job(job_id)) and j.state == "running")
        children = _wait_for(lambda: (found := psutil.Process(worker.pid).children(recursive=True))
                             and len(found) >= 2 and found)
        stopped_at = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)
        took = time.monotonic() - stopped_at
        _wait_for(lambda: not _alive(children), timeout=5)
    finally:
        _stop(worker)
    assert took < 15
    row = jobs.get_job(job_id)
    assert row.state == JobState.queued.value, (row.state, row.error)
    assert "worker is stopping" in row.log
    assert ClipStatus.processing.value not in _statuses()  # claims were handed back

    second = _start_worker()
    try:
        finished = _wait_for(lambda: (j := jobs.get_job(job_id)) and j.state in ("done", "failed") and j)
    finally:
        _stop(second)
    assert finished.state == JobState.done.value, finished.error
    assert set(_statuses()) == {ClipStatus.ready.value}
    leftovers = [p.name for p in (get_settings().data_dir / "media").iterdir() if ".partial" in p.name]
    assert leftovers == []


@pytest.mark.slow  # real worker processes, started twice
def test_a_worker_recovers_stale_jobs_periodically(lead: User):
    with Session(get_engine(), expire_on_commit=False) as session:
        lost = Job(kind="ingest", params={"dataset_id": 12345}, created_by_id=lead.id, run_as_id=lead.id,
                   state=JobState.running.value, worker="elsewhere:1:x", attempts=1,
                   heartbeat_at=utcnow() - timedelta(seconds=5))
        session.add(lost)
        session.commit()
    worker = _start_worker({"CLUELAB_JOB_STALE_SECONDS": "2"})
    try:
        # Stale when the worker starts: recovered and run at once (it then fails: there is no such dataset).
        row = _wait_for(lambda: (j := jobs.get_job(lost.id)) and j.state in ("done", "failed") and j, timeout=30)
        assert "[requeued]" in row.log and row.attempts == 2
        with Session(get_engine(), expire_on_commit=False) as session:
            later = Job(kind="ingest", params={"dataset_id": 12345}, created_by_id=lead.id, run_as_id=lead.id,
                        state=JobState.running.value, worker="elsewhere:1:x", attempts=1, heartbeat_at=utcnow())
            session.add(later)
            session.commit()
        # Fresh now; the worker's periodic sweep recovers it once its heartbeat is 2 s old.
        row = _wait_for(lambda: (j := jobs.get_job(later.id)) and j.state in ("done", "failed") and j, timeout=30)
        assert "[requeued]" in row.log
    finally:
        _stop(worker)


@job("test-nap", roles=(Role.lead,))
def nap_job(ctx: JobContext, *, seconds: float) -> dict:
    """Sleeps without reporting progress, as a long model call would."""
    time.sleep(seconds)
    return {}


def test_the_heartbeat_advances_while_a_job_makes_no_progress(lead: User, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CLUELAB_JOB_HEARTBEAT_SECONDS", "0.2")
    get_settings.cache_clear()
    job_id = jobs.enqueue("test-nap", params={"seconds": 2.0}, user=lead)
    runner = threading.Thread(target=jobs.execute, args=(job_id,))
    runner.start()
    beats = set()
    while runner.is_alive():
        row = jobs.get_job(job_id)
        if row.state == JobState.running.value:
            beats.add(row.heartbeat_at)
            assert row.done == 0
        time.sleep(0.1)
    runner.join()
    assert jobs.get_job(job_id).state == JobState.done.value
    assert len(beats) >= 5  # about one per 0.2 s over 2 s, none from progress


def test_recovery_skips_a_live_worker_and_gives_up_after_max_attempts(lead: User):
    with Session(get_engine(), expire_on_commit=False) as session:
        live = Job(kind="ingest", params={}, created_by_id=lead.id, run_as_id=lead.id, state="running",
                   worker=jobs.worker_id(), heartbeat_at=utcnow() - timedelta(hours=1), attempts=1)
        doomed = Job(kind="ingest", params={}, created_by_id=lead.id, run_as_id=lead.id, state="running",
                     worker="elsewhere:1:x", heartbeat_at=utcnow() - timedelta(hours=1), attempts=jobs.MAX_ATTEMPTS)
        session.add_all([live, doomed])
        session.commit()
    assert jobs.recover_stale_jobs() == [doomed.id]
    assert jobs.get_job(live.id).state == JobState.running.value  # this process runs it: not lost
    gave_up = jobs.get_job(doomed.id)
    assert gave_up.state == JobState.failed.value and f"{jobs.MAX_ATTEMPTS} times" in gave_up.error


def test_cancel_and_unknown_kinds(lead: User):
    job_id = jobs.enqueue("ingest", params={"dataset_id": 12345}, user=lead)
    jobs.cancel(job_id=job_id, actor=lead)
    assert jobs.get_job(job_id).state == JobState.cancelled.value
    jobs.execute(job_id)  # a cancelled job is not run
    assert jobs.get_job(job_id).state == JobState.cancelled.value
    with pytest.raises(ValueError, match="unknown job kind"):
        jobs.enqueue("no-such-kind", user=lead)


def test_a_failing_job_records_its_error(lead: User):
    job_id = jobs.enqueue("ingest", params={"dataset_id": 1, "unexpected": True}, user=lead)
    row = jobs.run_job_inline(job_id)
    assert row.state == JobState.failed.value
    assert "unexpected" in row.error and "traceback" in row.result
