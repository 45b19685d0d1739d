"""Manifests and folders: every row becomes a clip or a row-numbered reason; nothing escapes the folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session

from annotation.ingest.importer import ImportFailed, import_parsed, read_manifest, read_source
from annotation.ingest.subtitles import parse_subtitles, read_subtitle_file
from annotation.permissions import PermissionDenied
from core.vocabulary import ClipStatus, Role
from db.models import Dataset, User
from tests.media_factory import make_video


def test_csv_manifest_rows(tmp_path: Path):
    make_video(tmp_path / "clip1.mp4", seconds=1.0)
    (tmp_path / "clip2.srt").write_text("1\n00:00:00,500 --> 00:00:02,000\n你为什么不告诉我\n", encoding="utf-8")
    make_video(tmp_path / "clip2.mp4", seconds=1.0)
    (tmp_path / "manifest.csv").write_text(
        "name,path,transcript,emotion,speaker\n"
        "c1,clip1.mp4,I am fine.,happy,s1\n"
        "c2,clip2.mp4,clip2.srt,angry,s2\n"
        "c3,,Only words here.,sad,\n"
        "c4,../outside.mp4,,,\n"
        "c5,missing.mp4,,,\n"
        ",,,,\n"
        "c7,,,,\n", encoding="utf-8")
    parsed = read_manifest(tmp_path / "manifest.csv")
    names = [c.name for c in parsed.clips]
    assert names == ["c1", "c2", "c3"]
    c1, c2, c3 = parsed.clips
    assert (c1.transcript, c1.emotion, c1.speaker, c1.transcript_source) == ("I am fine.", "happy", "s1", "manifest")
    assert c2.transcript == "你为什么不告诉我" and c2.transcript_source == "subtitle"
    assert c2.transcript_words[0].start == 0.5 and c2.transcript_words[-1].end == pytest.approx(2.0)
    assert c3.media_path is None
    reasons = {e.row: e.reason for e in parsed.errors}
    assert "outside the import folder" in reasons[5]
    assert "not found" in reasons[6]
    assert "no name" in reasons[7]
    assert "neither media nor a transcript" in reasons[8]


def test_json_manifest_and_text_only_clip_is_ready(tmp_path: Path, sqlite_engine):
    (tmp_path / "m.json").write_text(json.dumps({"clips": [{"name": "t1", "transcript": "我今天很开心", "emotion": "happy"}]}))
    parsed = read_source(tmp_path / "m.json")
    with Session(sqlite_engine) as session:
        dataset = Dataset(name="d")
        session.add(dataset)
        session.flush()
        report = import_parsed(session, dataset=dataset, parsed=parsed,
                               user=User(username="l", password_hash="!", roles=["lead"]))
        session.flush()
        assert report.created == 1
        from db.models import Clip

        clip = session.get(Clip, report.clip_ids[0])
        assert clip.status == ClipStatus.ready.value
        assert clip.language == "zh" and clip.source_emotion == "happy"


def test_bad_manifests_fail_clearly(tmp_path: Path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ImportFailed, match="cannot read manifest"):
        read_source(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text('"a string"')
    with pytest.raises(ImportFailed, match="list of objects"):
        read_source(tmp_path / "list.json")
    with pytest.raises(ImportFailed, match="expected a folder"):
        read_source(tmp_path / "x.txt")


def test_only_leads_import(tmp_path: Path, sqlite_engine):
    with Session(sqlite_engine) as session:
        dataset = Dataset(name="d")
        session.add(dataset)
        session.flush()
        annotator = User(username="a", password_hash="!", roles=[Role.annotator.value])
        with pytest.raises(PermissionDenied):
            import_parsed(session, dataset=dataset, parsed=read_source(tmp_path), user=annotator)


def test_subtitles_srt_and_vtt():
    srt = "1\n00:00:01,000 --> 00:00:02,500\n<i>Hello</i> world\n\n2\n00:00:03,000 --> 00:00:04,000\nAgain\n"
    assert parse_subtitles(srt) == [(1.0, 2.5, "Hello world"), (3.0, 4.0, "Again")]
    vtt = "WEBVTT\n\n00:01.000 --> 00:02.000\nHi\n"
    assert parse_subtitles(vtt) == [(1.0, 2.0, "Hi")]


def test_subtitle_file_in_gb18030(tmp_path: Path):
    path = tmp_path / "zh.srt"
    path.write_bytes("1\n00:00:00,000 --> 00:00:01,000\n我很难过\n".encode("gb18030"))
    text, words = read_subtitle_file(path)
    assert text == "我很难过"
    assert "".join(w.word for w in words) == "我很难过"


def test_uploads_keep_only_media_with_safe_names(tmp_path: Path):
    from annotation.datasets import save_uploads

    lead = User(username="l", password_hash="!", roles=[Role.lead.value])
    folder, refused = save_uploads(actor=lead, dataset_id=1, uploads_dir=tmp_path, max_bytes=1000, files=[
        ("../../escape.mp4", b"x" * 10), ("clip.srt", b"1\n"), ("notes.exe", b"MZ"), ("empty.mp4", b""),
        ("big.mp4", b"x" * 2000)])
    assert sorted(p.name for p in folder.iterdir()) == ["clip.srt", "escape.mp4"]
    assert folder.is_relative_to(tmp_path)
    assert len(refused) == 3
    assert any("unsupported file type .exe" in r for r in refused)
    assert any("empty" in r for r in refused) and any("limit" in r for r in refused)
    with pytest.raises(PermissionDenied):
        save_uploads(actor=User(username="a", password_hash="!", roles=["annotator"]), dataset_id=1,
                     uploads_dir=tmp_path, max_bytes=1000, files=[])
