"""Jobs through a real worker process: progress, per-item errors, a killed worker recovered by retry."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import Session, select

from annotation import jobs
from annotation.ingest.importer import import_parsed, scan_folder
from cluelab.bootstrap import init_database
from core.vocabulary import ClipStatus, JobState, Role
from db.engine import get_engine
from db.models import Clip, Dataset, User
from tests.media_factory import make_video

ROOT = Path(__file__).resolve().parent.parent


def _import_folder(folder: Path) -> int:
    init_database()
    with Session(get_engine(), expire_on_commit=False) as session:
        dataset = Dataset(name="jobs")
        session.add(dataset)
        session.commit()
        import_parsed(session, dataset=dataset, parsed=scan_folder(folder),
                      user=User(username="l", password_hash="!", roles=[Role.lead.value]))
        session.commit()
        return int(dataset.id)


def _start_worker(extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    env = {**os.environ, **(extra_env or {})}
    return subprocess.Popen([sys.executable, "-m", "cluelab.cli", "worker", "--workers", "1"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _wait_for(predicate, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


def _stop(worker: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def test_worker_runs_a_job_with_progress_and_records_a_bad_clip(tmp_path: Path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        make_video(folder / f"ok_{i}.mp4", seconds=1.0, tone_hz=300 + 50 * i)
    (folder / "broken.mp4").write_text("garbage" * 100)
    dataset_id = _import_folder(folder)

    job_id = jobs.enqueue("ingest", params={"dataset_id": dataset_id})
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


def test_killed_worker_leaves_a_recoverable_job(tmp_path: Path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(6):
        make_video(folder / f"clip_{i}.mp4", seconds=4.0, size="640x480", tone_hz=200 + 50 * i)
    dataset_id = _import_folder(folder)
    job_id = jobs.enqueue("ingest", params={"dataset_id": dataset_id})
    worker = _start_worker({"CLUELAB_INGEST_WORKERS": "1"})
    try:
        _wait_for(lambda: (j := jobs.get_job(job_id)) and j.state == "running" and j.done >= 1)
    finally:
        _stop(worker)
    interrupted = jobs.get_job(job_id)
    assert interrupted.state == JobState.running.value and interrupted.done < 6

    assert jobs.recover_stale_jobs(stale_after=jobs.timedelta(seconds=0)) == [job_id]
    failed = jobs.get_job(job_id)
    assert failed.state == JobState.failed.value and "worker stopped" in failed.error

    jobs.retry(job_id, inline=True)
    finished = jobs.get_job(job_id)
    assert finished.state == JobState.done.value
    assert finished.done == 6 - interrupted.done and finished.failed == 0
    with Session(get_engine()) as session:
        statuses = {c.status for c in session.exec(select(Clip)).all()}
    assert statuses == {ClipStatus.ready.value}


def test_cancel_and_unknown_kinds():
    init_database()
    job_id = jobs.enqueue("ingest", params={"dataset_id": 12345})
    jobs.cancel(job_id)
    assert jobs.get_job(job_id).state == JobState.cancelled.value
    jobs.execute(job_id)  # a cancelled job is not run
    assert jobs.get_job(job_id).state == JobState.cancelled.value
    with pytest.raises(ValueError, match="unknown job kind"):
        jobs.enqueue("no-such-kind")


def test_a_failing_job_records_its_error():
    init_database()
    job_id = jobs.enqueue("ingest", params={"dataset_id": 1, "unexpected": True})
    row = jobs.run_job_inline(job_id)
    assert row.state == JobState.failed.value
    assert "unexpected" in row.error and "traceback" in row.result
