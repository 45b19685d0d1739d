"""Word times for given transcripts, subtitle cues spread by characters, and the transcript a clip keeps."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation.ingest.subtitles import read_subtitle_file
from annotation.ingest.transcripts import (
    ALIGNED,
    ASR,
    ESTIMATED,
    align_words,
    choose_transcript,
    on_screen_transcript,
    timing_of,
    transcript_words,
    word_spans,
)


def _rebuilt(text: str, words: list[dict]) -> bool:
    """Every word is the transcript's own text at its offset, in order."""
    at = 0
    for w in words:
        if text[w["at"]:w["at"] + len(w["word"])] != w["word"] or w["at"] < at:
            return False
        at = w["at"] + len(w["word"])
    return True


def test_english_transcript_takes_asr_times_and_keeps_its_own_spelling():
    given = "Well, I told you: it's NOT fine!"
    heard = [{"word": "Well", "start": 0.2, "end": 0.5}, {"word": "I", "start": 0.6, "end": 0.7},
             {"word": "told", "start": 0.7, "end": 1.0}, {"word": "you", "start": 1.0, "end": 1.2},
             {"word": "its", "start": 1.5, "end": 1.7}, {"word": "not", "start": 1.7, "end": 2.0},
             {"word": "fine", "start": 2.1, "end": 2.6}]
    words = align_words(given, heard)
    assert [w["word"] for w in words] == ["Well", "I", "told", "you", "it's", "NOT", "fine"]
    assert _rebuilt(given, words)
    by = {w["word"]: w for w in words}
    assert by["told"]["start"] == pytest.approx(0.7) and by["told"]["end"] == pytest.approx(1.0)
    assert by["NOT"]["start"] == pytest.approx(1.7) and by["fine"]["end"] == pytest.approx(2.6)
    assert by["it's"]["start"] == pytest.approx(1.5)
    assert all(w["timing"] == ALIGNED for w in words)


def test_mandarin_is_aligned_per_character_including_misheard_characters():
    given = "我今天真的很生气，你为什么不告诉我？"
    # What Whisper base hears on espeak-ng: 神奇 for 生气, traditional characters, one word per chunk.
    heard_text = ["我", "今天", "真的", "很", "神奇", "你", "為", "什麼", "不", "告訴", "我"]
    t, heard = 0.3, []
    for piece in heard_text:
        heard.append({"word": piece, "start": round(t, 2), "end": round(t + 0.25 * len(piece), 2)})
        t += 0.25 * len(piece) + 0.05
    words = align_words(given, heard)
    assert "".join(w["word"] for w in words) == "我今天真的很生气你为什么不告诉我"
    assert _rebuilt(given, words)
    starts = [w["start"] for w in words]
    assert starts == sorted(starts)
    shengqi = next(w for w in words if "气" in w["word"])
    shenqi = heard[4]
    assert shengqi["start"] >= shenqi["start"] - 0.01 and shengqi["end"] <= shenqi["end"] + 0.01
    assert shengqi["timing"] == ALIGNED
    last = words[-1]
    assert last["end"] == pytest.approx(heard[-1]["end"])


def test_words_asr_did_not_hear_are_interpolated_between_their_neighbours():
    given = "one two extraordinarily three"
    heard = [{"word": "one", "start": 0.0, "end": 0.4}, {"word": "two", "start": 0.5, "end": 0.9},
             {"word": "three", "start": 3.0, "end": 3.4}]
    words = align_words(given, heard)
    middle = words[2]
    assert middle["word"] == "extraordinarily" and middle["timing"] == ESTIMATED
    assert 0.9 <= middle["start"] < middle["end"] <= 3.0
    assert timing_of(words) == ESTIMATED


def test_no_speech_words_spread_over_the_clip_as_estimates():
    words = align_words("hello there friend", [], duration=3.0)
    assert [w["timing"] for w in words] == [ESTIMATED] * 3
    assert words[0]["start"] == 0.0 and words[-1]["end"] == pytest.approx(3.0)


def test_subtitle_cue_is_spread_by_characters_not_evenly_per_word(tmp_path: Path):
    path = tmp_path / "clip.srt"
    path.write_text("1\n00:00:01,000 --> 00:00:03,000\nI understand\n\n"
                    "2\n00:00:04,000 --> 00:00:05,000\n我今天很生气\n", encoding="utf-8")
    text, words = read_subtitle_file(path)
    assert text == "I understand我今天很生气"
    first, second = words[0], words[1]
    assert (first.word, second.word) == ("I", "understand")
    # 1 of 11 characters, not half the cue.
    assert first.end - first.start == pytest.approx(2.0 / 11, abs=0.01)
    assert second.end == pytest.approx(3.0)
    assert all(w.timing == ESTIMATED for w in words)
    chinese = [w for w in words if w.start >= 4.0]
    assert "".join(w.word for w in chinese) == "我今天很生气"
    for w in chinese:
        assert w.end - w.start == pytest.approx(len(w.word) / 6, abs=0.01)
    assert all(text[w.at:w.at + len(w.word)] == w.word for w in words)


def test_word_spans_cover_words_not_punctuation():
    text = "“走吧。”He said, don't."
    assert [text[a:b] for a, b in word_spans(text)] == ["走", "吧", "He", "said", "don't"]


# --- which transcript ------------------------------------------------------------------------------

def test_best_keeps_the_given_transcript_when_it_matches_the_speech():
    choice = choose_transcript("best", given="我今天很开心", heard="我今天很開心", on_screen="CCTV 新闻")
    assert choice.source == "given" and choice.text == "我今天很开心"


def test_best_takes_burnt_in_subtitles_that_match_the_speech_better():
    choice = choose_transcript("best", given="", heard="我今天很開心啊", on_screen="我今天很开心啊")
    assert choice.source == "on_screen"
    wrong = choose_transcript("best", given="完全不同的一句话", heard="我今天真的很生气", on_screen="我今天真的很生气")
    assert wrong.source == "on_screen" and "better" in wrong.reason


def test_best_ignores_on_screen_text_that_is_not_what_is_said():
    choice = choose_transcript("best", given="", heard="I am so happy today", on_screen="BREAKING NEWS")
    assert choice.source == "asr" and choice.text == "I am so happy today"


def test_a_fixed_source_wins_and_falls_back_when_missing():
    assert choose_transcript("asr", given="given text", heard="heard text", on_screen="").source == "asr"
    assert choose_transcript("given", given="given text", heard="heard text", on_screen="x").source == "given"
    assert choose_transcript("on_screen", given="given", heard="heard", on_screen="shown").text == "shown"
    fallback = choose_transcript("on_screen", given="given", heard="heard", on_screen="")
    assert fallback.source == "given" and "no on-screen" in fallback.reason


def test_on_screen_lines_over_time_become_cues():
    timeline = [{"t": 0.0, "lines": ["我今天很开心"]}, {"t": 0.5, "lines": ["我今天很开心"]},
                {"t": 1.0, "lines": ["你呢"]}, {"t": 1.5, "lines": ["你呢", "CCTV"]}]
    text, cues = on_screen_transcript(timeline)
    assert text == "我今天很开心你呢CCTV"
    assert cues[0] == (0.0, 1.0, "我今天很开心") and cues[1][:2] == (1.0, 2.0)


def test_chosen_words_come_from_asr_when_the_choice_is_asr():
    heard = [{"word": "hello", "start": 0.1, "end": 0.4}, {"word": "world", "start": 0.5, "end": 0.9}]
    choice = choose_transcript("asr", given="", heard="hello world", on_screen="")
    words = transcript_words(choice, given_words=[], heard_words=heard, heard_text="hello world")
    assert [(w["word"], w["timing"], w["at"]) for w in words] == [("hello", ASR, 0), ("world", ASR, 6)]


# --- whatever the two texts, the words are the transcript's own, in order, with times that never run back ----

_TEXT = st.text(alphabet=st.sampled_from(list("abc de,.!我今天很生气你为什么 ") + ["不", "告", "诉"]), max_size=40)


@settings(max_examples=150, deadline=None)
@given(text=_TEXT, heard=st.lists(st.tuples(st.text(alphabet="abcde我今天很神奇为", min_size=1, max_size=4),
                                            st.floats(0, 0.5), st.floats(0, 0.5)), max_size=12))
def test_alignment_keeps_the_text_and_times_move_forward(text, heard):
    t, timed = 0.0, []
    for word, gap, length in heard:
        timed.append({"word": word, "start": t + gap, "end": t + gap + length})
        t += gap + length
    words = align_words(text, timed, duration=t + 1.0)
    assert [text[a:b] for a, b in word_spans(text)] == [w["word"] for w in words]
    assert _rebuilt(text, words)
    assert all(w["end"] >= w["start"] >= 0 for w in words)
    starts = [w["start"] for w in words]
    assert starts == sorted(starts)
    if timed and words:
        assert words[-1]["end"] <= max(t, timed[-1]["end"]) + 0.3 * len(text) + 1e-6
