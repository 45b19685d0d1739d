"""The synthetic demo: deterministic clips whose drawn faces the face models read as the intended emotion."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile

from annotation.ingest.demo import (
    EXPRESSIONS,
    _background,
    _draw_face,
    demo_clips,
    render_clip,
)
from annotation.ingest.media import probe
from annotation.ingest.subtitles import read_subtitle_file


def test_demo_set_covers_six_emotions_in_two_languages():
    clips = demo_clips()
    assert len(clips) == 24
    assert {c.emotion for c in clips} == set(EXPRESSIONS)
    assert {c.language for c in clips} == {"en", "zh"}
    assert len({c.name for c in clips}) == 24


def test_demo_names_do_not_give_the_answer_away():
    import re

    clips = demo_clips()
    assert all(re.fullmatch(r"demo_\d{3}", c.name) for c in clips), [c.name for c in clips]
    assert [c.name for c in clips] == sorted(c.name for c in clips)
    # Nor does the numbering: neighbouring clips do not share their emotion in runs.
    emotions = [c.emotion for c in clips]
    assert sum(a == b for a, b in zip(emotions, emotions[1:], strict=False)) <= 2


def test_render_clip_makes_a_talking_clip_with_its_subtitle(tmp_path: Path):
    clip = next(c for c in demo_clips() if c.language == "zh")
    video = render_clip(clip, tmp_path, seed=1)
    info = probe(video)
    assert info.has_video and info.has_audio and 3.0 <= info.duration <= 6.1
    text, words = read_subtitle_file(tmp_path / f"{clip.name}.srt")
    assert text == clip.text and words
    # espeak-ng really spoke: the audio track is not silent.
    wav = tmp_path / "a.wav"
    import subprocess

    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(video), "-ac", "1", "-ar", "16000", str(wav)], check=True)
    samples, _ = soundfile.read(wav)
    assert np.abs(samples).max() > 0.05


@pytest.fixture(scope="module")
def face_cues():
    from model.features.face import FaceAnalyzer, au_cues

    analyzer = FaceAnalyzer()
    cues = {}
    for emotion, expression in EXPRESSIONS.items():
        frame = _background("office", np.random.default_rng(0))
        _draw_face(frame, expression, 1.0, 0.0, False)
        faces = analyzer.analyze_frame(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        assert faces.found and faces.landmarks == 478, emotion
        cues[emotion] = (au_cues(faces.blendshapes), max(faces.expression, key=faces.expression.get))
    analyzer.close()
    return cues


def test_drawn_expressions_move_the_action_units_they_should(face_cues):
    neutral = face_cues["neutral"][0]
    assert face_cues["happy"][0]["AU12"] > neutral["AU12"] + 0.5  # lip corners up
    assert face_cues["surprise"][0]["AU1"] > neutral["AU1"] + 0.5  # brows up
    assert face_cues["sad"][0]["AU1"] > neutral["AU1"] + 0.3  # inner brows up


def test_expression_model_agrees_on_the_clear_cases(face_cues):
    for emotion in ("neutral", "happy", "angry", "surprise"):
        assert face_cues[emotion][1] == emotion
