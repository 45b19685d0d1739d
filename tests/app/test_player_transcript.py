"""The player receives the transcript exactly as written, each word's timing, and a note when times are estimated."""

from __future__ import annotations

from pathlib import Path

from components.player import player_data
from db.models import Clip


def _clip(**fields) -> Clip:
    return Clip(id=1, dataset_id=1, name="c", **fields)


def test_words_carry_the_text_between_them_so_the_transcript_reads_exactly():
    text = "“走吧。”他说。"
    words = [{"word": "走", "start": 0.1, "end": 0.3, "timing": "aligned", "at": 1},
             {"word": "吧", "start": 0.3, "end": 0.5, "timing": "aligned", "at": 2},
             {"word": "他", "start": 0.8, "end": 0.9, "timing": "estimated", "at": 5},
             {"word": "说", "start": 0.9, "end": 1.0, "timing": "aligned", "at": 6}]
    data = player_data(_clip(transcript=text, transcript_words=words, meta={"transcript_timing": "estimated"}),
                       data_dir=Path("/nonexistent"))
    assert "".join(w["gap"] + w["word"] for w in data["words"]) + data["words_tail"] == text
    assert [w["timing"] for w in data["words"]] == ["aligned", "aligned", "estimated", "aligned"]
    assert data["timing"] == "estimated" and "estimated" in data["timing_note"]


def test_subtitle_words_without_a_timing_mark_count_as_estimated():
    words = [{"word": "Hello", "start": 0.0, "end": 0.5}, {"word": "there", "start": 0.5, "end": 1.0}]
    data = player_data(_clip(transcript="Hello there", transcript_words=words, transcript_source="subtitle"),
                       data_dir=Path("/nonexistent"))
    assert data["timing"] == "estimated" and data["timing_note"]
    # Words with no offsets are shown space-separated, as before.
    assert [w["gap"] for w in data["words"]] == ["", " "] and data["words_tail"] == ""


def test_asr_and_aligned_times_need_no_note():
    words = [{"word": "hi", "start": 0.0, "end": 0.5, "timing": "asr", "at": 0}]
    data = player_data(_clip(transcript="hi", transcript_words=words, transcript_source="asr"),
                       data_dir=Path("/nonexistent"))
    assert data["timing"] == "asr" and data["timing_note"] == ""


def test_words_without_offsets_are_found_in_the_transcript_so_punctuation_keeps_its_place():
    """Stored words with no offsets (older imports, the demo) once showed "gone , and"."""
    text = "It's gone, and I can't get it back."
    tokens = ["It's", "gone", ",", "and", "I", "can't", "get", "it", "back", "."]
    words = [{"word": t, "start": i * 0.2, "end": i * 0.2 + 0.2} for i, t in enumerate(tokens)]
    data = player_data(_clip(transcript=text, transcript_words=words), data_dir=Path("/nonexistent"))
    assert "".join(w["gap"] + w["word"] for w in data["words"]) + data["words_tail"] == text
    mandarin = [{"word": t, "start": 0.0, "end": 0.1} for t in ("我", "今天", "很", "生气", "！")]
    data = player_data(_clip(transcript="我今天很生气！", transcript_words=mandarin), data_dir=Path("/nonexistent"))
    assert "".join(w["gap"] + w["word"] for w in data["words"]) + data["words_tail"] == "我今天很生气！"


def test_words_that_are_not_in_the_transcript_are_space_separated_but_punctuation_is_not():
    words = [{"word": t, "start": 0.0, "end": 0.1} for t in ("Hello", ",", "world", "!")]
    data = player_data(_clip(transcript="something else", transcript_words=words), data_dir=Path("/nonexistent"))
    assert "".join(w["gap"] + w["word"] for w in data["words"]) == "Hello, world!"
