"""Each extractor on media with known content."""

from __future__ import annotations

import numpy as np
import pytest

from model.features.face import FaceAnalyzer, analyze_frames
from model.features.media import load_audio
from model.features.scene import scene_features
from model.features.text import sentiment, text_features
from model.features.voice import analyze_audio
from tests.model.conftest import drawn_face, espeak_wav

SR = 16000


@pytest.fixture(scope="module")
def faces():
    analyzer = FaceAnalyzer()
    yield analyzer
    analyzer.close()


def test_real_face_photo_gives_box_landmarks_blendshapes_and_a_smile(faces):
    from skimage import data

    frame = faces.analyze_frame(data.astronaut())
    assert len(frame.boxes) == 1 and frame.boxes[0].score > 0.8
    box = frame.boxes[0]
    assert 150 < (box.x0 + box.x1) / 2 < 300 and 50 < (box.y0 + box.y1) / 2 < 200  # her face, not the suit
    assert frame.landmarks == 478
    assert len(frame.blendshapes) == 52
    assert set(frame.head_pose) == {"yaw", "pitch", "roll"}
    assert frame.blendshapes["mouthSmileLeft"] > 0.3  # she smiles
    assert max(frame.expression, key=frame.expression.get) == "happy"


def test_drawn_face_is_found_with_landmarks_and_blendshapes(faces):
    frame = faces.analyze_frame(drawn_face())
    assert frame.found
    assert frame.landmarks == 478 and len(frame.blendshapes) == 52


def test_blank_frame_has_no_face_and_the_clip_summary_says_so(faces):
    blank = np.zeros((360, 640, 3), np.uint8)
    assert not faces.analyze_frame(blank).found
    summary = analyze_frames(faces, [blank, blank], [0.0, 0.5])
    assert summary["frames"] == 2 and summary["frames_with_face"] == 0 and summary["au"] == {}


def test_open_mouth_shows_as_jaw_drop_cue(faces):
    summary = analyze_frames(faces, [drawn_face(0.0), drawn_face(1.0)], [0.0, 0.5])
    assert summary["frames_with_face"] == 2
    assert summary["au"]["AU26"]["peak_time"] == 0.5


@pytest.mark.parametrize("hz", [120.0, 220.0])
def test_tone_pitch_is_measured_within_five_percent(hz):
    t = np.arange(int(SR * 1.5)) / SR
    tone = (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    voice = analyze_audio(tone)
    assert voice["has_voice"]
    assert abs(voice["pitch"]["median_hz"] - hz) / hz < 0.05


def test_silence_gives_no_vocal_evidence():
    voice = analyze_audio(np.zeros(SR * 2, np.float32))
    assert not voice["has_voice"]
    assert "pitch" not in voice and voice["speech_seconds"] == 0


def test_speech_has_speech_time_and_a_plausible_rate(tmp_path):
    audio = load_audio(espeak_wav(tmp_path / "en.wav", "I am really angry with you today, why did you not tell me?"))
    voice = analyze_audio(audio)
    assert voice["has_voice"] and voice["speech_seconds"] > 1.5
    assert 60 < voice["pitch"]["median_hz"] < 300
    assert voice["jitter"] is not None and voice["hnr_db"] is not None


def test_sentiment_in_english_and_mandarin():
    assert sentiment("I am so happy, this is wonderful!", "en") > 0.5
    assert sentiment("This is terrible, I hate it.", "en") < -0.5
    assert sentiment("我今天真的很生气，你为什么不告诉我", "zh") < 0
    assert sentiment("今天真开心", "zh") > 0
    features = text_features("Why did you not tell me? I am angry!")
    assert features["questions"] == 1 and "angry" in features["emotion_words"] and len(features["embedding"]) == 512


def test_scene_brightness_motion_people_and_on_screen_text():
    import cv2

    dark = np.full((360, 640, 3), 20, np.uint8)
    bright = np.full((360, 640, 3), 230, np.uint8)
    cv2.putText(bright, "BREAKING NEWS", (60, 300), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (0, 0, 0), 3)
    still = scene_features([dark, dark, dark], [0.0, 0.5, 1.0], ocr_frames=0)
    assert still["brightness"] < 0.15 and still["motion"] == 0.0
    lively = scene_features([dark, bright, dark], [0.0, 0.5, 1.0], faces={"max_faces": 2, "mean_faces": 1.5})
    assert lively["motion"] > 0.5 and lively["faces_max"] == 2
    assert "BREAKING NEWS" in " ".join(lively["text"])


def test_speaker_baseline_turns_a_high_clip_into_a_cited_rise():
    from model.baseline.clues import vocal_clue
    from model.features.voice import speaker_baseline

    usual = [{"pitch": {"median_hz": hz}, "intensity": {"median_db": 65.0}} for hz in (190.0, 200.0, 210.0)]
    baseline = speaker_baseline(usual)
    assert baseline == {"pitch_hz": 200.0, "loudness_db": 65.0, "clips": 3}
    assert speaker_baseline(usual[:2]) is None
    voice = {"has_voice": True, "pitch": {"median_hz": 240.0, "p95_hz": 260.0, "range_semitones": 3.0}}
    clue, _ = vocal_clue(voice, {"voice": voice, "speaker": baseline}, "en")
    assert "Pitch rises to 260 Hz, 30% above the speaker's usual median (200 Hz over 3 clips)" in clue
    clue_zh, _ = vocal_clue(voice, {"voice": voice, "speaker": baseline}, "zh")
    assert "260 Hz" in clue_zh and "30%" in clue_zh
