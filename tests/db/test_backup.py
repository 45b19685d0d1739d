"""`cluelab backup` / `cluelab restore` of the embedded instance: database and data folder (issue 17)."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from cluelab.cli import app
from core.settings import get_settings
from db.engine import get_engine
from db.migrate import upgrade_to_head
from db.models import Clip, User
from db.transfer import checksums
from tests.annotation.factories_consensus import make_annotation, make_clip, make_dataset, make_user

runner = CliRunner()


def _instance() -> None:
    upgrade_to_head(get_engine())
    media = get_settings().media_dir
    with Session(get_engine()) as session:
        lead = make_user(session, "lena", "lead")
        dataset = make_dataset(session, "field")
        for n in range(3):
            folder = media / "field" / f"clip-{n}"
            folder.mkdir(parents=True)
            (folder / "video.mp4").write_bytes(bytes([n]) * (1000 + n))
            (folder / "thumb.jpg").write_bytes(b"\xff\xd8" + bytes([n]) * 10)
            clip = make_clip(session, dataset, f"clip-{n}", video_path=f"media/field/clip-{n}/video.mp4",
                             transcript="我很生气")
            make_annotation(session, clip, lead, emotion="angry", clues={"facial": "皱眉"})
        session.commit()


def _state() -> tuple[dict, dict[str, str]]:
    tables = {name: (c.rows, c.checksum) for name, c in checksums(get_engine()).items()}
    media = get_settings().media_dir
    files = {str(p.relative_to(media)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(media.rglob("*")) if p.is_file()}
    return tables, files


def _change_everything() -> None:
    with Session(get_engine()) as session:
        make_user(session, "late", "annotator")
        clip = session.exec(select(Clip).where(Clip.name == "clip-0")).one()
        clip.transcript = "changed"
        session.add(clip)
        session.commit()
    media = get_settings().media_dir
    (media / "field" / "clip-1" / "video.mp4").unlink()
    (media / "field" / "clip-2" / "video.mp4").write_bytes(b"overwritten")
    (media / "field" / "new.mp4").write_bytes(b"new")


def test_backup_change_restore_gives_back_the_backed_up_state(tmp_path: Path):
    _instance()
    saved = _state()
    archive = tmp_path / "instance.tar.gz"
    made = runner.invoke(app, ["backup", str(archive)])
    assert made.exit_code == 0, made.output
    assert archive.is_file() and oct(archive.stat().st_mode & 0o777) == oct(0o600)  # it holds password hashes

    _change_everything()
    assert _state() != saved

    refused = runner.invoke(app, ["restore", str(archive)])
    assert refused.exit_code == 1 and "--force" in refused.output
    assert _state() != saved  # nothing touched

    restored = runner.invoke(app, ["restore", str(archive), "--force"])
    assert restored.exit_code == 0, restored.output
    assert _state() == saved
    with Session(get_engine()) as session:  # the running engine sees the restored rows, and can write
        assert session.exec(select(User).where(User.username == "late")).first() is None
        make_user(session, "after-restore", "annotator")
        session.commit()


def test_restore_into_an_empty_instance_needs_no_force(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _instance()
    saved = _state()
    archive = tmp_path / "instance.tar"
    assert runner.invoke(app, ["backup", str(archive)]).exit_code == 0
    monkeypatch.setenv("CLUELAB_DATA_DIR", str(tmp_path / "elsewhere"))
    get_settings.cache_clear()
    restored = runner.invoke(app, ["restore", str(archive)])
    assert restored.exit_code == 0, restored.output
    assert _state() == saved


def _tampered(archive: Path, out: Path, *, change: str | None = None, add: str | None = None) -> Path:
    with tarfile.open(archive) as source, tarfile.open(out, "w") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isfile() else None
            if member.name == change:
                data = b"tampered" + data[8:]
            target.addfile(member, io.BytesIO(data) if data is not None else None)
        if add is not None:
            extra = tarfile.TarInfo(add)
            extra.size = 3
            target.addfile(extra, io.BytesIO(b"bad"))
    return out


def test_restore_refuses_an_archive_that_does_not_match_its_manifest(tmp_path: Path):
    _instance()
    archive = tmp_path / "instance.tar"
    assert runner.invoke(app, ["backup", str(archive)]).exit_code == 0
    _change_everything()
    changed = _state()
    for bad, words in ((_tampered(archive, tmp_path / "a.tar", change="data/media/field/clip-0/video.mp4"),
                        "does not match"),
                       (_tampered(archive, tmp_path / "b.tar", add="data/media/extra.mp4"), "not in its manifest"),
                       (_tampered(archive, tmp_path / "c.tar", add="../outside.txt"), "unsafe path")):
        result = runner.invoke(app, ["restore", str(bad), "--force"])
        assert result.exit_code == 1 and words in result.output, result.output
        assert _state() == changed  # refused before anything was replaced
    assert not (tmp_path / "outside.txt").exists()
    not_archive = tmp_path / "junk.tar"
    not_archive.write_bytes(b"not a tar file")
    result = runner.invoke(app, ["restore", str(not_archive), "--force"])
    assert result.exit_code == 1 and "not a ClueLab backup" in result.output


def test_backup_of_a_postgres_instance_points_at_pg_dump(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://cluelab@db.example/cluelab")
    get_settings.cache_clear()
    for command in (["backup", str(tmp_path / "x.tar")], ["restore", str(tmp_path / "x.tar")]):
        result = runner.invoke(app, command)
        assert result.exit_code == 1 and "pg_dump" in result.output, result.output
    assert not (tmp_path / "x.tar").exists()


def test_restore_refuses_links_in_the_archive(tmp_path: Path):
    _instance()
    archive = tmp_path / "instance.tar"
    assert runner.invoke(app, ["backup", str(archive)]).exit_code == 0
    linked = tmp_path / "linked.tar"
    with tarfile.open(archive) as source, tarfile.open(linked, "w") as target:
        link = tarfile.TarInfo("data/media/escape")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc"
        target.addfile(link)
        for member in source.getmembers():
            target.addfile(member, source.extractfile(member))
    result = runner.invoke(app, ["restore", str(linked), "--force"])
    assert result.exit_code == 1 and "not a plain file" in result.output, result.output
    assert not (get_settings().data_dir / "media" / "escape").exists()
