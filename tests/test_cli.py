"""The command line drives the same domain code: import + ingest, users, jobs."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select
from typer.testing import CliRunner

from cluelab.cli import app
from db.engine import get_engine
from db.models import Clip, Dataset, User
from tests.media_factory import make_video

runner = CliRunner()


def test_import_folder_then_reimport_reports_duplicates(tmp_path: Path):
    folder = tmp_path / "clips"
    folder.mkdir()
    make_video(folder / "one.mp4", seconds=1.0, tone_hz=300)
    make_video(folder / "two.mp4", seconds=1.0, tone_hz=500)
    (folder / "zero.mp4").write_bytes(b"")

    first = runner.invoke(app, ["import", str(folder), "--dataset", "Field clips", "--label-set", "merr"])
    assert first.exit_code == 0, first.output
    assert "3 new clip(s)" in first.output
    assert "2 clip(s) ready, 1 failed" in first.output
    assert "zero" in first.output and "empty" in first.output

    second = runner.invoke(app, ["import", str(folder), "--dataset", "Field clips"])
    assert second.exit_code == 0, second.output
    assert "0 new clip(s), 3 duplicate(s) skipped" in second.output
    with Session(get_engine()) as session:
        dataset = session.exec(select(Dataset)).one()
        assert "contempt" in dataset.label_set
        assert len(session.exec(select(Clip)).all()) == 3


def test_import_refuses_unknown_label_sets_and_bad_sources(tmp_path: Path):
    result = runner.invoke(app, ["import", str(tmp_path), "--dataset", "x", "--label-set", "nope"])
    assert result.exit_code == 1 and "unknown label set" in result.output
    result = runner.invoke(app, ["import", str(tmp_path / "nothing.txt"), "--dataset", "x"])
    assert result.exit_code == 1 and "expected a folder" in result.output


def test_users_create_and_reset_password():
    created = runner.invoke(app, ["users", "create", "alice", "-r", "annotator", "-r", "researcher"],
                            input="a-good-password\na-good-password\n")
    assert created.exit_code == 0, created.output
    with Session(get_engine()) as session:
        alice = session.exec(select(User).where(User.username == "alice")).one()
        assert alice.roles == ["annotator", "researcher"]
    reset = runner.invoke(app, ["users", "reset-password", "alice"])
    assert reset.exit_code == 0 and "New password for alice" in reset.output
    missing = runner.invoke(app, ["users", "reset-password", "bob"])
    assert missing.exit_code == 1 and "no user named 'bob'" in missing.output
