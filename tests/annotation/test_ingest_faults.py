"""A full disk or a read-only media folder is the server's fault, not the file's: the clip stays pending, the
run stops with a message that says so, and the clip is processed once the fault is fixed. Errored clips can be
retried (`cluelab ingest --retry-errors`)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from annotation import jobs
from annotation.ingest.importer import import_parsed, scan_folder
from annotation.ingest.pipeline import IngestStopped, ingest_clips
from cluelab.bootstrap import init_database
from cluelab.cli import app
from core.settings import get_settings
from core.vocabulary import ClipStatus, JobState, Role
from db.engine import get_engine
from db.models import Clip, Dataset, User
from tests.media_factory import make_video

runner = CliRunner()


def _mount_tmpfs(target: Path, *, size: str, read_only: bool = False) -> None:
    options = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'mount failed'}): run as root with "
                    "CAP_SYS_ADMIN to test a full disk")


def _unmount(target: Path) -> None:
    subprocess.run(["umount", "-l", str(target)], capture_output=True)


@pytest.fixture
def media_dir() -> Path:
    folder = get_settings().data_dir / "media"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def read_only_media(media_dir: Path) -> Iterator[Path]:
    """The media folder, read-only: chmod for ordinary users; root ignores modes, so a read-only tmpfs."""
    if os.geteuid() != 0:
        media_dir.chmod(0o555)
        yield media_dir
        media_dir.chmod(0o755)
        return
    _mount_tmpfs(media_dir, size="1M", read_only=True)
    yield media_dir
    _unmount(media_dir)


@pytest.fixture
def full_media(media_dir: Path) -> Iterator[Path]:
    """The media folder on a 1 MB tmpfs filled up but for a few KB (needs root: skipped otherwise)."""
    if os.geteuid() != 0:
        pytest.skip("filling a disk needs a tmpfs mount, which needs root")
    _mount_tmpfs(media_dir, size="1M")
    filler = media_dir / "filler"
    with contextlib.suppress(OSError), open(filler, "wb") as handle:
        handle.write(b"\0" * (1024 * 1024 - 16 * 1024))
    yield media_dir
    _unmount(media_dir)


def _lead() -> User:
    return User(username="lead", password_hash="!", roles=[Role.lead.value])


def _dataset_with_clips(tmp_path: Path, count: int = 2) -> int:
    init_database()
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(count):
        make_video(folder / f"clip_{i}.mp4", seconds=2.0, tone_hz=300 + 100 * i)
    with Session(get_engine(), expire_on_commit=False) as session:
        dataset = Dataset(name="faults")
        session.add(dataset)
        session.commit()
        import_parsed(session, dataset=dataset, parsed=scan_folder(folder), user=_lead())
        session.commit()
        return int(dataset.id)


def _clips() -> dict[str, Clip]:
    with Session(get_engine()) as session:
        return {c.name: c for c in session.exec(select(Clip)).all()}


def test_a_read_only_media_folder_leaves_clips_pending_and_says_so(tmp_path: Path, read_only_media: Path):
    dataset_id = _dataset_with_clips(tmp_path)
    with pytest.raises(IngestStopped, match="read-only|permission denied") as stopped:
        ingest_clips(actor=_lead(), dataset_id=dataset_id, workers=1)
    assert "could not decode" not in str(stopped.value)
    assert {c.status for c in _clips().values()} == {ClipStatus.pending.value}
    assert all(c.error is None for c in _clips().values())


def test_a_full_disk_leaves_clips_pending_and_they_finish_once_there_is_room(tmp_path: Path, full_media: Path):
    dataset_id = _dataset_with_clips(tmp_path)
    with pytest.raises(IngestStopped, match="disk is full") as stopped:
        ingest_clips(actor=_lead(), dataset_id=dataset_id, workers=1)
    assert "could not decode" not in str(stopped.value)
    assert {c.status for c in _clips().values()} == {ClipStatus.pending.value}
    assert not [p.name for p in full_media.iterdir() if ".partial" in p.name]  # nothing half-written left

    (full_media / "filler").unlink()
    report = ingest_clips(actor=_lead(), dataset_id=dataset_id, workers=1)
    assert (report.ready, report.failed) == (2, 0)
    assert {c.status for c in _clips().values()} == {ClipStatus.ready.value}


def test_an_ingest_job_on_a_full_disk_fails_with_a_clear_message(tmp_path: Path, full_media: Path):
    dataset_id = _dataset_with_clips(tmp_path, count=1)
    with Session(get_engine(), expire_on_commit=False) as session:
        lead = User(username="lena", password_hash="!", roles=[Role.lead.value])
        session.add(lead)
        session.commit()
    row = jobs.run_job_inline(jobs.enqueue("ingest", params={"dataset_id": dataset_id}, user=lead))
    assert row.state == JobState.failed.value
    assert row.error.startswith("media processing stopped: the disk is full"), row.error
    assert "traceback" not in row.result and row.failed == 0
    assert {c.status for c in _clips().values()} == {ClipStatus.pending.value}


def test_retry_errors_gives_an_errored_clip_another_chance(tmp_path: Path):
    init_database()
    folder = tmp_path / "in"
    folder.mkdir()
    video = folder / "late.mp4"
    video.write_text("not yet a video\n" * 20)
    first = runner.invoke(app, ["import", str(folder), "--dataset", "retry"])
    assert first.exit_code == 0 and "0 clip(s) ready, 1 failed" in first.output, first.output
    assert _clips()["late"].status == ClipStatus.error.value

    make_video(video, seconds=1.0)  # the file is fixed at its source
    plain = runner.invoke(app, ["ingest", "--dataset", "retry"])
    assert plain.exit_code == 0 and "0 clip(s) ready" in plain.output  # errors are not retried unasked
    retried = runner.invoke(app, ["ingest", "--dataset", "retry", "--retry-errors"])
    assert retried.exit_code == 0, retried.output
    assert "1 errored clip(s) queued again" in retried.output and "1 clip(s) ready" in retried.output
    assert _clips()["late"].status == ClipStatus.ready.value and _clips()["late"].error is None
