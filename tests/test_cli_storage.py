"""A read-only data directory or a full disk gets one clear line from every command, never a traceback, and a
write that could not finish leaves nothing half-written."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from cluelab.cli import app
from core.settings import get_settings
from db.engine import get_engine
from db.models import User

runner = CliRunner()


def _mount(args: list[str]) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here ({done.stderr.strip() or 'mount failed'}): needs root with CAP_SYS_ADMIN")


@pytest.fixture
def data_dir() -> Path:
    folder = get_settings().data_dir
    folder.mkdir(parents=True, exist_ok=True)
    assert runner.invoke(app, ["init"]).exit_code == 0
    return folder


@pytest.fixture
def read_only_data_dir(data_dir: Path) -> Iterator[Path]:
    from db.engine import _engine_for

    # As after a command ends: connections closed, so SQLite removed its -wal and -shm files.
    get_engine().dispose()
    _engine_for.cache_clear()
    if os.geteuid() != 0:
        data_dir.chmod(0o555)
        yield data_dir
        data_dir.chmod(0o755)
        return
    _mount(["--bind", str(data_dir), str(data_dir)])
    _mount(["-o", "remount,bind,ro", str(data_dir)])
    yield data_dir
    subprocess.run(["umount", "-l", str(data_dir)], capture_output=True)
    _engine_for.cache_clear()


@pytest.fixture
def full_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data directory on a 4 MB tmpfs, with its database initialised, then filled up."""
    if os.geteuid() != 0:
        pytest.skip("filling a disk needs a tmpfs mount, which needs root")
    folder = tmp_path / "small"
    folder.mkdir()
    _mount(["-t", "tmpfs", "-o", "size=4M", "tmpfs", str(folder)])
    monkeypatch.setenv("CLUELAB_DATA_DIR", str(folder))
    get_settings.cache_clear()
    assert runner.invoke(app, ["init"]).exit_code == 0
    with contextlib.suppress(OSError), open(folder / "filler", "wb") as handle:
        while True:
            handle.write(b"\0" * 4096)
            handle.flush()
    yield folder
    from db.engine import _engine_for

    _engine_for.cache_clear()
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _one_clear_line(result) -> str:  # noqa: ANN001
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "sqlalche.me" not in result.output, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    return lines[0]


@pytest.mark.parametrize("command", [["users", "list"], ["jobs", "list"], ["init"], ["ingest"]])
def test_a_read_only_data_dir_gets_a_clear_message(read_only_data_dir: Path, command: list[str]):
    line = _one_clear_line(runner.invoke(app, command))
    assert str(read_only_data_dir) in line and ("read-only" in line or "not writable" in line), line


def test_a_full_disk_on_a_database_write_gets_a_clear_message_and_writes_nothing(full_data_dir: Path):
    result = runner.invoke(app, ["users", "create", "bob", "-r", "admin"],
                           input="a-good-password\na-good-password\n")
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "disk" in result.output and "full" in result.output and "disk I/O error" not in result.output
    (full_data_dir / "filler").unlink()
    with Session(get_engine()) as session:
        assert session.exec(select(User)).all() == []
