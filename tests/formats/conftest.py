"""Fixtures for format tests: small files in each format's real shape, and a database.

Every fixture file has Chinese text, one malformed row, one duplicate name and
one formula-like cell, as real exports do.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session

from db.models import Dataset, User


@pytest.fixture
def session(db_engine):
    with Session(db_engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def lead(session) -> User:
    user = User(username="lead", password_hash="x", roles=["lead"])
    session.add(user)
    session.commit()
    return user


@pytest.fixture
def dataset(session) -> Dataset:
    ds = Dataset(name="emer")
    session.add(ds)
    session.commit()
    return ds


EN_REASON = ("In the video, the man frowns and raises his brows. The office is dim. In the audio, his voice is loud "
             "and fast. In the text, he asks why nobody told him. Based on these clues, he is angry.")
ZH_REASON = ("在视频中，她眉头紧锁，嘴角下垂。房间很暗。在音频中，她的声音颤抖。在文本中，她说自己很害怕。"
             "综上所述，她的情绪是担忧。")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def emer_v1(tmp_path: Path) -> Path:
    import csv

    path = tmp_path / "gt-eng.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["names", "emotions", "subtitles", "reasons"])
        w.writerow(["sample_00000001", "angry", "Why did nobody tell me?", EN_REASON])
        w.writerow(["sample_00000002", "worried", "我真的很害怕。", ZH_REASON])
        w.writerow(["sample_00000003", "happy", "=HYPERLINK(\"http://x\")", "In the text, he laughs. Based on this, he is happy."])
        w.writerow(["", "sad", "", "no name here"])  # malformed
        w.writerow(["sample_00000001", "happy", "dup", "duplicate"])  # duplicate name
    return path


@pytest.fixture
def emer_v2(tmp_path: Path) -> Path:
    import csv

    path = tmp_path / "emer_v2.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["name", "chinese", "english"])
        w.writerow(["samplenew_00000001", ZH_REASON, "In the video, she frowns. In the audio, her voice trembles. "
                    "In the text, she says she is scared. Based on these clues, she is worried."])
        w.writerow(["samplenew_00000002", "在视频中，他在笑。在文本中，他说“太好了”。综上，他很开心。", "-1 for formula: In the text, he laughs."])
        w.writerow(["samplenew_00000003", "", ""])  # malformed
        w.writerow(["samplenew_00000001", "重复", "duplicate"])
    return path


def merr_entry(emotion: str, caption: str, fine: bool, text: str = "") -> dict:
    entry = {"AU_list": ["AU04", "AU15"], "visual_prior_list": ["brow lowerer", "lip corner depressor"],
             "audio_prior_list": ["low pitch", "slow pace"], "peak_index": 7, "peak_AU_list": ["AU04"],
             "pseu_emotion": emotion}
    if fine:
        entry.update({"smp_reason_caption": caption, "text": text})
    else:
        entry["caption"] = caption
    return entry


@pytest.fixture
def merr_fine(tmp_path: Path) -> Path:
    data = {
        "sample_00000047": merr_entry("sad", EN_REASON, True, "I can't believe it."),
        "sample_00000048": merr_entry("worried", ZH_REASON, True, "我很害怕。"),
        "sample_00000049": "not an object",  # malformed
        "sample_00000050": merr_entry("happy", "@SUM(1)", True, "+formula"),
    }
    return write(tmp_path / "MERR_fine_grained.json", json.dumps(data, ensure_ascii=False))


@pytest.fixture
def merr_coarse(tmp_path: Path) -> Path:
    data = {
        "sample_00000002": merr_entry("angry", "The person frowns; the voice is loud.", False),
        "sample_00000003": merr_entry("worried", "她皱眉，声音颤抖。", False),
        "sample_00000004": {"AU_list": []},  # malformed: no emotion, no caption
    }
    return write(tmp_path / "MERR_coarse_grained.json", json.dumps(data, ensure_ascii=False))


@pytest.fixture
def merr_txt(tmp_path: Path) -> Path:
    return write(tmp_path / "train.txt", "sample_00000002 120 angry\nsample_00000003 98 worried\nbroken line\n"
                 "sample_00000002 120 happy\n")


@pytest.fixture
def mer_factory_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "mer_factory_out"
    # The current output shape (video_id, source_video, frame_number/timestamp, audio_tone, subtitles).
    current = {
        "video_id": "clip_zh", "source_video": "/videos/clip_zh.mp4",
        "chronological_emotion_peaks": ["Peak at 0.83s: sad (moderate)", "Peak at 2.10s: fear (slight), sad (slight)"],
        "overall_peak_frame_info": {"frame_number": 25, "timestamp": 0.83,
                                    "top_aus_intensities": {"AU04_r": 2.4, "AU15_r": 1.1}},
        "coarse_descriptions_at_peak": {"visual_expression": "她眉头紧锁。", "visual_objective": "昏暗的房间。",
                                        "audio_tone": "声音颤抖。", "subtitles": "我真的很害怕。",
                                        "video_content": "她独自坐在床边。"},
        "final_summary": ZH_REASON,
    }
    # An older shape (source_path, frame/time, audio_analysis), with a formula-like cell.
    older = {
        "source_path": "/videos/clip_en.mp4", "chronological_emotion_peaks": [],
        "overall_peak_frame_info": {"frame": 42, "time": 1.4, "top_aus_intensities": {"AU12_r": 2.1, "AU06_r": 1.5}},
        "coarse_descriptions_at_peak": {"visual_expression": "=cmd|' /C calc'!A0", "visual_objective": "An office.",
                                        "audio_analysis": "Calm voice.", "video_content": "Two people talk."},
        "final_summary": "The woman smiles broadly; she is happy.",
    }
    for name, body in (("clip_zh", current), ("clip_en", older)):
        (folder / name).mkdir(parents=True)
        write(folder / name / f"{name}_merr_data.json", json.dumps(body, ensure_ascii=False))
    (folder / "broken").mkdir()
    write(folder / "broken" / "broken_merr_data.json", "{not json")
    return folder


@pytest.fixture
def mer2023_labels(tmp_path: Path) -> Path:
    return write(tmp_path / "train-label.csv", "name,discrete,valence\nsample_3,happy,2.5\nsample_4,worried,-1\n"
                 "sample_5,,\nsample_3,sad,0\n")


@pytest.fixture
def dfew_labels(tmp_path: Path) -> Path:
    return write(tmp_path / "set_1_train.csv", "video_name,label\n1,1\n2,7\n3,9\n1,2\n")


@pytest.fixture
def raw_labels(tmp_path: Path) -> Path:
    return write(tmp_path / "raw.csv", "name,annotator,label\nclip_a,alice,happy\nclip_a,bob,开心\nclip_b,alice,sad\n"
                 ",bob,sad\nclip_a,alice,angry\n")
