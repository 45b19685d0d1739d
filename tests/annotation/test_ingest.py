"""Ingest on real media: browser-safe outputs, clear errors for bad files, duplicates, resume."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest
import soundfile
from sqlmodel import Session, select

from annotation.ingest.importer import import_parsed, scan_folder
from annotation.ingest.media import MediaError, probe, process_file, waveform_peaks
from annotation.ingest.pipeline import ingest_clips
from cluelab.bootstrap import init_database
from core.settings import get_settings
from core.vocabulary import ClipStatus, Role
from db.engine import get_engine
from db.models import Clip, Dataset, User
from tests.media_factory import make_video, truncate


def _lead() -> User:
    return User(username="lead", password_hash="!", roles=[Role.lead.value])


def test_process_file_makes_browser_safe_outputs(tmp_path: Path):
    source = make_video(tmp_path / "in.mp4", seconds=2.0)
    out = tmp_path / "media" / "abc"
    result = process_file(source, out, max_bytes=10**9)

    with av.open(str(out / "video.mp4")) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == "h264"
        assert video.codec_context.pix_fmt == "yuv420p"
        assert audio.codec_context.name == "aac"
    # +faststart puts the index (moov) before the media data (mdat).
    head = (out / "video.mp4").read_bytes()[:4096]
    assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))
    info = soundfile.info(str(out / "audio.wav"))
    assert (info.samplerate, info.channels) == (16000, 1)
    assert abs(info.duration - 2.0) < 0.1
    assert (out / "thumbnail.jpg").stat().st_size > 0
    assert len(list((out / "frames").glob("*.jpg"))) == 4  # 2 s at 2 frames/s
    assert result.probe.has_video and result.probe.has_audio
    assert abs(result.probe.duration - 2.0) < 0.1
    assert len(result.peaks) > 100 and max(result.peaks) == 1.0
    assert result.video_path == "media/abc/video.mp4"


def test_process_file_is_resumable(tmp_path: Path):
    source = make_video(tmp_path / "in.mp4", seconds=1.0)
    out = tmp_path / "media" / "x"
    first = process_file(source, out, max_bytes=10**9)
    marker_time = (out / "media.json").stat().st_mtime_ns
    second = process_file(source, out, max_bytes=10**9)
    assert second == first
    assert (out / "media.json").stat().st_mtime_ns == marker_time


def test_audio_only_and_video_only(tmp_path: Path):
    audio = process_file(make_video(tmp_path / "a.wav", video=False), tmp_path / "m" / "a", max_bytes=10**9)
    assert not audio.probe.has_video and audio.probe.has_audio
    assert audio.frames_dir is None and audio.audio_path
    silent = process_file(make_video(tmp_path / "v.mp4", audio=False), tmp_path / "m" / "v", max_bytes=10**9)
    assert silent.probe.has_video and not silent.probe.has_audio
    assert silent.audio_path is None and silent.peaks == []


@pytest.mark.parametrize("maker, message", [
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_text("this is not a video, just text\n" * 20), "not a readable media file"),
    (lambda p: truncate(make_video(p, seconds=3.0)), "not a readable media file"),
    (lambda p: truncate(make_video(p, seconds=3.0, faststart=True), keep=0.4), "truncated"),
])
def test_bad_files_get_clear_errors(tmp_path: Path, maker, message):
    bad = tmp_path / "bad.mp4"
    maker(bad)
    with pytest.raises(MediaError, match=message):
        process_file(bad, tmp_path / "out", max_bytes=10**9)
    assert not (tmp_path / "out").exists()


def test_oversized_and_unsupported_are_refused_before_decoding(tmp_path: Path):
    video = make_video(tmp_path / "in.mp4", seconds=1.0)
    with pytest.raises(MediaError, match="limit"):
        process_file(video, tmp_path / "o1", max_bytes=100)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(MediaError, match="unsupported file type"):
        process_file(text, tmp_path / "o2", max_bytes=10**9)


def test_waveform_peaks_follow_loudness(tmp_path: Path):
    import numpy as np

    rate = 16000
    quiet_then_loud = np.concatenate([0.1 * np.ones(rate), 0.8 * np.ones(rate)]).astype("float32")
    soundfile.write(tmp_path / "w.wav", quiet_then_loud, rate)
    peaks = waveform_peaks(tmp_path / "w.wav", bins=10)
    assert peaks[:5] == pytest.approx([0.125] * 5, abs=0.01)
    assert peaks[5:] == pytest.approx([1.0] * 5)


def test_folder_ingest_records_errors_and_goes_on(tmp_path: Path):
    init_database()
    folder = tmp_path / "import"
    folder.mkdir()
    for i in range(3):
        make_video(folder / f"good_{i}.mp4", seconds=1.5, tone_hz=300 + 100 * i)
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "text.mp4").write_text("not a video\n" * 50)
    truncate(make_video(folder / "cut.mp4", seconds=3.0))
    (folder / "good_0.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nHello there\n")

    with Session(get_engine(), expire_on_commit=False) as session:
        dataset = Dataset(name="d")
        session.add(dataset)
        session.commit()
        report = import_parsed(session, dataset=dataset, parsed=scan_folder(folder), user=_lead(), media_root=folder)
        session.commit()
    assert report.created == 6 and report.duplicates == 0

    progress = []
    result = ingest_clips(actor=_lead(), dataset_id=dataset.id, workers=2,
                          on_progress=lambda n, e: progress.append((n, e)))
    assert (result.ready, result.failed) == (3, 3)
    assert len(progress) == 6
    with Session(get_engine()) as session:
        clips = {c.name: c for c in session.exec(select(Clip)).all()}
    assert {n for n, c in clips.items() if c.status == ClipStatus.ready.value} == {"good_0", "good_1", "good_2"}
    assert "empty" in clips["empty"].error
    assert "not a readable media file" in clips["text"].error
    assert clips["cut"].error
    good = clips["good_0"]
    assert good.transcript == "Hello there" and good.transcript_source == "subtitle"
    assert [w["word"] for w in good.transcript_words] == ["Hello", "there"]
    assert (get_settings().data_dir / good.video_path).exists()
    assert good.meta["frame_times"][:3] == [0.0, 0.5, 1.0]

    # Resumable: nothing left to do, nothing re-done.
    again = ingest_clips(actor=_lead(), dataset_id=dataset.id)
    assert (again.ready, again.failed) == (0, 0)

    # Re-import: every clip is a duplicate, nothing new.
    with Session(get_engine(), expire_on_commit=False) as session:
        dataset = session.get(Dataset, dataset.id)
        second = import_parsed(session, dataset=dataset, parsed=scan_folder(folder), user=_lead(), media_root=folder)
        session.commit()
        assert (second.created, second.duplicates) == (0, 6)
        assert len(session.exec(select(Clip)).all()) == 6


def test_same_content_under_another_name_is_a_duplicate(tmp_path: Path):
    init_database()
    folder = tmp_path / "f"
    folder.mkdir()
    make_video(folder / "a.mp4", seconds=1.0)
    (folder / "copy_of_a.mp4").write_bytes((folder / "a.mp4").read_bytes())
    with Session(get_engine(), expire_on_commit=False) as session:
        dataset = Dataset(name="d")
        session.add(dataset)
        session.flush()
        report = import_parsed(session, dataset=dataset, parsed=scan_folder(folder), user=_lead())
        assert (report.created, report.duplicates) == (1, 1)


def test_probe_reads_duration_and_streams(tmp_path: Path):
    info = probe(make_video(tmp_path / "p.mp4", seconds=2.0, size="160x120"))
    assert (info.width, info.height) == (160, 120)
    assert info.has_audio and info.has_video
    assert json.dumps(info.__dict__)
