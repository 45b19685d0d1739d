"""Burnt-in subtitles: RapidOCR reads them frame by frame, and the text is kept when it matches the speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from annotation.ingest.transcripts import ALIGNED
from model.features.media import load_audio
from model.features.scene import scene_features
from model.features.speech import speech_features
from tests.model.conftest import espeak_wav

pytestmark = pytest.mark.slow

LATIN_FONT = Path(__import__("matplotlib").__file__).parent / "mpl-data/fonts/ttf/DejaVuSans-Bold.ttf"
CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc")


def _frames(lines: list[str], font: Path, size: int = 30) -> tuple[list[np.ndarray], list[float]]:
    """8 frames over 4 s of a grey room, each half showing one subtitle line near the bottom."""
    face = ImageFont.truetype(str(font), size)
    images, times = [], []
    for n in range(8):
        image = Image.new("RGB", (640, 360), (70, 80, 90))
        draw = ImageDraw.Draw(image)
        draw.rectangle((200, 60, 440, 260), fill=(150, 120, 100))  # something that is not text
        draw.text((20, 15), "NEWS 24", font=ImageFont.truetype(str(LATIN_FONT), 26), fill=(255, 255, 0))  # a logo
        line = lines[0] if n < 4 else lines[1]
        width = draw.textlength(line, font=face)
        draw.text(((640 - width) / 2, 300), line, font=face, fill=(255, 255, 255), stroke_width=2,
                  stroke_fill=(0, 0, 0))
        images.append(np.asarray(image))
        times.append(n * 0.5)
    return images, times


def test_burnt_in_subtitles_become_the_transcript_when_they_match_the_speech(tmp_path, tmp_path_factory):
    images, times = _frames(["Good morning everyone", "see you tomorrow"], LATIN_FONT)
    scene = scene_features(images, times)
    assert [item["t"] for item in scene["text_timeline"]] == times  # every frame read once text was seen
    assert any("morning" in line.lower() for line in scene["text"]), scene["text"]
    assert any("NEWS" in line for line in scene["text"])  # on screen, so in the scene's text ...
    assert not any("NEWS" in line for item in scene["text_timeline"] for line in item["lines"])  # ... not speech
    audio = load_audio(espeak_wav(tmp_path / "en.wav", "Good morning everyone. See you tomorrow."))
    speech = speech_features(transcript="", words=[], audio=audio, data_dir=tmp_path_factory.mktemp("data"),
                             language="en", speech_seconds=2.5, on_screen=scene["text_timeline"])
    assert speech["source"] == "on_screen", speech
    assert "morning" in speech["text"].lower() and "tomorrow" in speech["text"].lower()
    assert sum(w["timing"] == ALIGNED for w in speech["words"]) >= len(speech["words"]) - 1
    # The given transcript wins when it says what is heard as well as the screen does.
    kept = speech_features(transcript="Good morning everyone, see you tomorrow!", words=[], audio=audio,
                           data_dir=tmp_path_factory.mktemp("data2"), language="en", speech_seconds=2.5,
                           on_screen=scene["text_timeline"])
    assert kept["source"] == "given"


@pytest.mark.skipif(not CJK_FONT.is_file(), reason="no CJK font on this machine")
def test_chinese_subtitles_are_read_line_by_line_in_order():
    images, times = _frames(["我今天很开心", "你为什么不告诉我"], CJK_FONT, size=34)
    scene = scene_features(images, times)
    from annotation.ingest.transcripts import on_screen_transcript

    text, cues = on_screen_transcript(scene["text_timeline"])
    assert text == "我今天很开心你为什么不告诉我", scene["text_timeline"]
    assert cues[0][:2] == (0.0, 2.0) and cues[1][:2] == (2.0, 4.0)


def test_a_clip_without_text_on_screen_is_read_once():
    images = [np.full((360, 640, 3), 90, np.uint8) for _ in range(8)]
    scene = scene_features(images, [n * 0.5 for n in range(8)])
    assert scene["text"] == [] and "text_timeline" not in scene
