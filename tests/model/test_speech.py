"""Whisper base (joined from its two carrier packages) on espeak-ng English and Mandarin."""

from __future__ import annotations

import re

import pytest

from model.features.media import load_audio
from model.features.speech import (
    speech_features,
    transcribe,
    transcribe_many,
    whisper_dir,
)
from tests.model.conftest import espeak_wav

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


def test_whisper_model_is_joined_once_beside_its_files(data_dir):
    folder = whisper_dir(data_dir)
    assert {p.name for p in folder.iterdir()} == {"model.bin", "config.json", "tokenizer.json", "vocabulary.json"}
    size = (folder / "model.bin").stat().st_size
    assert size > 140_000_000
    assert whisper_dir(data_dir) == folder and (folder / "model.bin").stat().st_size == size


def test_english_speech_is_transcribed_with_word_timings(tmp_path, data_dir):
    audio = load_audio(espeak_wav(tmp_path / "en.wav", "Thank you very much for the wonderful dinner."))
    result = transcribe(audio, data_dir=data_dir)
    words = set(re.findall(r"[a-z]+", result["text"].lower()))
    assert result["language"] == "en"
    assert {"thank", "very", "much", "dinner"} <= words, result["text"]
    assert result["words"] and all(w["end"] >= w["start"] for w in result["words"])


def test_mandarin_speech_gives_a_chinese_transcript(tmp_path, data_dir):
    audio = load_audio(espeak_wav(tmp_path / "zh.wav", "wo3 jin1 tian1 zhen1 de hen3 sheng1 qi4", voice="cmn-latn-pinyin"))
    result = transcribe(audio, data_dir=data_dir)
    assert result["language"] == "zh"
    assert len(re.findall(r"[\u4e00-\u9fff]", result["text"])) >= 4, result["text"]
    assert result["text"].startswith("我")


def test_given_transcript_is_used_without_asr(data_dir):
    result = speech_features(transcript="我今天很开心", words=[], audio=None, data_dir=data_dir)
    assert result["source"] == "given" and result["language"] == "zh" and result["syllables"] == 6


def test_clips_of_one_language_share_a_window_and_keep_their_own_words(tmp_path, data_dir):
    sentences = ["Thank you very much for the wonderful dinner.", "Why did you not tell me about the meeting?",
                 "The weather is cold and rainy this morning."]
    audios = [load_audio(espeak_wav(tmp_path / f"s{i}.wav", text)) for i, text in enumerate(sentences)]
    results = transcribe_many(audios, data_dir=data_dir, language="en")
    expected = [{"dinner", "thank"}, {"meeting", "tell"}, {"weather", "morning"}]
    for result, words, audio in zip(results, expected, audios, strict=False):
        said = set(re.findall(r"[a-z]+", result["text"].lower()))
        assert words <= said, result["text"]
        assert all(0 <= w["start"] <= w["end"] <= audio.size / 16000 + 0.5 for w in result["words"])
    assert not {"dinner"} & set(re.findall(r"[a-z]+", results[1]["text"].lower()))
