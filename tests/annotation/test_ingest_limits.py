"""What a clip may cost: duration and sampled frames are bounded, size is checked before any hashing, and a
one-frame video is a valid clip."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from sqlmodel import Session, select

from annotation.ingest.importer import import_parsed, scan_folder
from annotation.ingest.media import Limits, MediaError, ffmpeg_binary, process_file
from annotation.ingest.pipeline import ingest_clips
from cluelab.bootstrap import init_database
from core.settings import get_settings
from core.vocabulary import ClipStatus, Role
from db.engine import get_engine
from db.models import Clip, Dataset, User
from tests.media_factory import make_video


def _tiny_long_video(path: Path, seconds: int) -> Path:
    """Hours of a flat grey picture at 1 frame/s: a file of a few hundred KB."""
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"color=c=gray:size=32x32:rate=1:duration={seconds}", "-c:v", "libx264", "-preset", "ultrafast",
                    "-g", "100000", str(path)], check=True)
    return path


def _defaults() -> Limits:
    settings = get_settings()
    return Limits(max_bytes=settings.max_media_bytes, max_duration=settings.max_duration_seconds,
                  max_frames=settings.max_frames_per_clip)


def _bytes_read() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def _lead() -> User:
    return User(username="lead", password_hash="!", roles=[Role.lead.value])


def test_a_three_hour_file_of_150_kb_is_refused_by_default(tmp_path: Path):
    video = _tiny_long_video(tmp_path / "long.mp4", 3 * 3600)
    assert video.stat().st_size < 400_000
    with pytest.raises(MediaError, match=r"3\.0 h long, over the 2\.0 h limit"):
        process_file(video, tmp_path / "media" / "long", max_bytes=10**9, limits=_defaults())
    assert not (tmp_path / "media").exists()  # refused before anything was written


def test_a_long_clip_is_sampled_more_sparsely(tmp_path: Path):
    video = _tiny_long_video(tmp_path / "long.mp4", 200)
    limits = Limits(max_bytes=10**9, max_duration=3600, max_frames=20)
    result = process_file(video, tmp_path / "media" / "long", max_bytes=10**9, limits=limits)
    frames = sorted((tmp_path / "media" / "long" / "frames").glob("*.jpg"))
    assert 15 <= len(frames) <= 20  # 200 s at 2 frames/s would be 400
    assert result.frame_times == [round(i * 10.0, 3) for i in range(len(frames))]
    assert result.frame_times[-1] < result.probe.duration


def test_a_one_frame_video_is_a_clip(tmp_path: Path):
    video = tmp_path / "one.mp4"
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=320x240:rate=25:duration=0.04", "-c:v", "mpeg4", str(video)], check=True)
    result = process_file(video, tmp_path / "media" / "one", max_bytes=10**9, limits=_defaults())
    assert result.frames_dir and result.frame_times == [0.0] and result.thumbnail_path
    assert (tmp_path / "media" / "one" / "thumbnail.jpg").stat().st_size > 0


def test_ingest_applies_the_duration_limit_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CLUELAB_MAX_DURATION_SECONDS", "60")
    get_settings.cache_clear()
    init_database()
    folder = tmp_path / "in"
    folder.mkdir()
    _tiny_long_video(folder / "too_long.mp4", 120)
    make_video(folder / "short.mp4", seconds=1.0)
    with Session(get_engine(), expire_on_commit=False) as session:
        dataset = Dataset(name="limits")
        session.add(dataset)
        session.commit()
        import_parsed(session, dataset=dataset, parsed=scan_folder(folder), user=_lead())
        session.commit()
    report = ingest_clips(actor=_lead(), dataset_id=dataset.id, workers=1)
    assert (report.ready, report.failed) == (1, 1)
    assert "2.0 min long, over the 1.0 min limit" in report.errors["too_long"]


def test_import_checks_size_before_hashing_and_hashes_only_same_size_files(tmp_path: Path):
    init_database()
    folder = tmp_path / "in"
    folder.mkdir()
    with open(folder / "huge.mp4", "wb") as handle:  # 3 GB, sparse: no disk used, but hashing reads 3 GB
        handle.truncate(3 * 1024**3)
    make_video(folder / "a.mp4", seconds=1.0, tone_hz=300)
    shutil.copy(folder / "a.mp4", folder / "a_copy.mp4")  # the same content under another name
    make_video(folder / "b.mp4", seconds=1.5, tone_hz=500)

    with Session(get_engine(), expire_on_commit=False) as session:
        dataset = Dataset(name="sizes")
        session.add(dataset)
        session.commit()
        before = _bytes_read()
        report = import_parsed(session, dataset=dataset, parsed=scan_folder(folder), user=_lead(), media_root=folder)
        read = _bytes_read() - before
        session.commit()
        clips = {c.name: c for c in session.exec(select(Clip)).all()}
    assert read < 50 * 1024**2, f"import read {read / 1e6:.0f} MB"  # the 3 GB file was never hashed
    assert report.created == 2 and report.duplicates == 1
    assert [e.name for e in report.errors] == ["huge"] and "over the" in report.errors[0].reason
    assert set(clips) == {"a", "b"}
    assert clips["a"].content_hash and clips["b"].content_hash is None  # b has no same-size twin: hashed later
    assert all(c.status == ClipStatus.pending.value for c in clips.values())
