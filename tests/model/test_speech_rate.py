"""Implausible speaking rates are not reported: None with a reason, in the features and the clue text."""

from __future__ import annotations

import pytest

from model.baseline.clues import vocal_clue
from model.baseline.fusion import numeric_features, speech_rate, speech_rate_and_reason
from model.features.speech import count_syllables, plausible_rate

VOICE = {"has_voice": True, "speech_seconds": 0.4, "speech_ratio": 0.2, "pauses": 0, "longest_pause": 0.0,
         "pitch": {"median_hz": 180.0, "p95_hz": 190.0, "range_semitones": 2.0, "end_slope_st_per_s": 0.0}}


def test_a_rate_of_62_syllables_a_second_is_not_reported():
    # 25 syllables "said" in 0.4 s of speech: a transcript that is not what the clip says.
    features = {"voice": dict(VOICE), "speech": {"text": "x" * 25, "syllables": 25}}
    rate, reason = speech_rate_and_reason(features)
    assert rate is None and "62.5" in reason and "implausible" in reason
    assert speech_rate(features) is None
    assert numeric_features(features)["speech_rate"] == 0.0
    for language in ("en", "zh"):
        text, _ = vocal_clue(features["voice"], features, language)
        assert "62.5" not in text and "syllables/s" not in text and "音节" not in text


@pytest.mark.parametrize("rate, ok", [(0.3, False), (0.5, True), (4.0, True), (12.0, True), (12.5, False)])
def test_plausible_rates(rate, ok):
    assert (plausible_rate(rate) is None) == ok


def test_a_normal_rate_is_still_reported():
    features = {"voice": {**VOICE, "speech_seconds": 2.0}, "speech": {"text": "", "syllables": 9}}
    assert speech_rate(features) == pytest.approx(4.5)
    assert "4.5 syllables/s" in vocal_clue(features["voice"], features, "en")[0]


def test_voice_estimate_beyond_plausible_is_dropped_too():
    features = {"voice": {**VOICE, "syllable_rate_est": 30.0}, "speech": {}}
    rate, reason = speech_rate_and_reason(features)
    assert rate is None and "30.0" in reason


def test_korean_and_japanese_syllables_are_counted():
    assert count_syllables("안녕하세요") == 5 and count_syllables("ありがとう") == 5


def test_word_starts_move_to_where_sound_begins():
    """Whisper starts a word where the previous one ended, its pause included: the start moves to the onset."""
    import numpy as np

    from model.features.speech import snap_to_onsets

    sr = 16000
    audio = np.zeros(int(3.0 * sr), np.float32)
    t = np.arange(int(0.4 * sr)) / sr
    for onset in (0.5, 1.4, 2.2):  # three "words", 0.4 s each, with pauses between
        audio[int(onset * sr):int(onset * sr) + t.size] = 0.3 * np.sin(2 * np.pi * 220 * t)
    heard = [{"word": "a", "start": 0.0, "end": 0.9}, {"word": "b", "start": 0.95, "end": 1.8},
             {"word": "c", "start": 2.15, "end": 2.6}]
    snapped = snap_to_onsets(heard, audio)
    assert [w["start"] for w in snapped] == pytest.approx([0.5, 1.4, 2.2], abs=0.03)
    assert [w["end"] for w in snapped] == [0.9, 1.8, 2.6]
    # Continuous sound: nothing moves.
    steady = 0.3 * np.sin(2 * np.pi * 220 * np.arange(2 * sr) / sr).astype(np.float32)
    assert snap_to_onsets([{"word": "x", "start": 0.3, "end": 0.8}], steady)[0]["start"] == 0.3
