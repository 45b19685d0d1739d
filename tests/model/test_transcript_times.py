"""Given transcripts get word times from the speech (Whisper base on espeak-ng), in English and Mandarin."""

from __future__ import annotations

import pytest

from annotation.ingest.transcripts import ALIGNED, ESTIMATED
from model.features.media import load_audio
from model.features.speech import needs_asr, speech_features
from tests.model.conftest import espeak_wav

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


def _exact(text: str, words: list[dict]) -> bool:
    return all(text[w["at"]:w["at"] + len(w["word"])] == w["word"] for w in words)


def test_a_manifest_transcript_without_times_is_aligned_to_the_speech(tmp_path, data_dir):
    audio = load_audio(espeak_wav(tmp_path / "en.wav", "Thank you very much for the wonderful dinner."))
    seconds = audio.size / 16000
    given = "Thank you VERY much, for the wonderful dinner!"
    assert needs_asr(transcript=given, audio=audio, speech_seconds=2.0, words=[])
    speech = speech_features(transcript=given, words=[], audio=audio, data_dir=data_dir, language="en",
                             speech_seconds=2.0)
    words = speech["words"]
    assert speech["text"] == given and speech["source"] == "given" and _exact(given, words)
    assert [w["word"] for w in words] == ["Thank", "you", "VERY", "much", "for", "the", "wonderful", "dinner"]
    assert sum(w["timing"] == ALIGNED for w in words) >= 6
    assert all(0 <= w["start"] <= w["end"] <= seconds + 0.3 for w in words)
    starts = [w["start"] for w in words]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    # Real times, not the clip spread evenly: "dinner" is said in the last part of the audio.
    assert words[-1]["start"] > 0.6 * seconds * 0.8 and speech["heard"]


def test_a_mandarin_transcript_is_aligned_per_character(tmp_path, data_dir):
    audio = load_audio(espeak_wav(tmp_path / "zh.wav", "wo3 jin1 tian1 zhen1 de hen3 sheng1 qi4, ni3 wei4 shen2 me bu4 "
                                  "gao4 su4 wo3", voice="cmn-latn-pinyin"))
    given = "我今天真的很生气，你为什么不告诉我。"
    speech = speech_features(transcript=given, words=[], audio=audio, data_dir=data_dir, language="zh",
                             speech_seconds=3.0)
    words = speech["words"]
    assert speech["text"] == given and _exact(given, words)
    assert "".join(w["word"] for w in words) == "我今天真的很生气你为什么不告诉我"
    assert sum(w["timing"] == ALIGNED for w in words) >= len(words) - 2, (speech["heard"], words)
    starts = [w["start"] for w in words]
    assert starts == sorted(starts) and words[-1]["end"] <= audio.size / 16000 + 0.3
    # The comma's pause: the second clause starts after the first ends.
    ni = next(w for w in words if w["word"].startswith("你"))
    assert ni["start"] >= next(w for w in words if "气" in w["word"])["end"] - 0.05


def test_asr_never_runs_without_speech_and_estimates_times_over_the_clip(data_dir):
    speech = speech_features(transcript="hello there", words=[], audio=None, data_dir=data_dir, duration=2.0)
    assert speech["source"] == "given" and speech["timing"] == ESTIMATED
    assert speech["words"][-1]["end"] == pytest.approx(2.0)


def test_an_unknown_language_is_heard_as_mandarin_or_english_never_a_third(tmp_path, data_dir):
    from model.features.speech import transcribe

    audio = load_audio(espeak_wav(tmp_path / "ko.wav", "안녕하세요 만나서 반갑습니다", voice="ko"))
    anything = transcribe(audio, data_dir=data_dir, languages=None)
    assert anything["language"] not in ("zh", "en")  # what unconstrained detection does with it
    constrained = transcribe(audio, data_dir=data_dir)
    assert constrained["language"] in ("zh", "en") and constrained["language_p"] is not None
