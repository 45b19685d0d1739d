"""Every registered backend honours the contract; the baseline predicts real clips in both languages."""

from __future__ import annotations

import random
import re

import pytest

from core.settings import get_settings
from core.vocabulary import LABEL_SETS, Aspect
from model.base import (
    ClipInput,
    ClipPrediction,
    ModelBackend,
    TrainingItem,
    TrainingSnapshot,
)
from model.registry import BACKENDS, UnknownBackend, backend_class, make_backend
from tests.model.conftest import LEARNABLE, synthetic_features, talking_clip, use_env

LABELS = list(LABEL_SETS["mer2023"])


def _snapshot() -> TrainingSnapshot:
    rng = random.Random(1)
    items = [TrainingItem(clip_id=i, clip_name=f"c{i}", consensus_id=i, emotion=LEARNABLE[i % 3],
                          clues={"scene": "A room."}, language="en", features=synthetic_features(LEARNABLE[i % 3], rng))
             for i in range(12)]
    return TrainingSnapshot(dataset_id=None, label_set=LABELS, content_hash="abc123", train=items[:9], held_out=items[9:])


@pytest.fixture
def configured(request, monkeypatch):
    """What a backend needs beyond the defaults to run here (its local weights), per backend name."""
    name = request.param
    if name == "openai":
        request.getfixturevalue("llm_server")  # its endpoint: a real local chat-completions server
    if name == "emotion_llm":
        from tests.model.llm_factory import composed_env

        use_env(monkeypatch, composed_env(request.getfixturevalue("tiny_llm")))
    return name


@pytest.mark.parametrize("configured", sorted(BACKENDS), indirect=True)
def test_backend_conformance(configured):
    name = configured
    cls = backend_class(name)
    assert issubclass(cls, ModelBackend) and not getattr(cls, "__abstractmethods__", None)
    settings = get_settings()
    backend = make_backend(name, settings=settings, label_set=LABELS)
    described = backend.describe()
    assert described["backend"] == name and described["model_version"] == backend.model_version

    snapshot = _snapshot()
    clips = [ClipInput(name=i.clip_name, clip_id=i.clip_id, features=i.features, language="en") for i in snapshot.held_out]
    predictions = backend.predict(clips)
    assert [p.clip_name for p in predictions] == [c.name for c in clips]
    for p in predictions:
        assert isinstance(p, ClipPrediction)
        assert set(p.clues) == set(Aspect) and all(p.clues.values())
        assert set(p.distribution) == set(LABELS) and abs(sum(p.distribution.values()) - 1) < 1e-3
        assert p.emotion in LABELS and 0.0 <= p.uncertainty <= 1.0
        assert p.model_version == backend.model_version

    artifacts = backend.train(snapshot)
    backend.close()
    assert artifacts.path.is_dir() and settings.data_dir / "models" in artifacts.path.parents
    trained = make_backend(name, settings=settings, artifacts_path=artifacts.path, model_version=f"{name}-v1")
    again = trained.predict(clips)
    trained.close()
    assert all(p.model_version == f"{name}-v1" for p in again)


def test_unknown_backend_is_refused_with_the_known_names():
    with pytest.raises(UnknownBackend, match="baseline"):
        make_backend("nonesuch")


def test_abstract_methods_are_enforced():
    class Half(ModelBackend):
        name = "half"

        def describe(self):
            return {}

    with pytest.raises(TypeError, match="predict"):
        Half(get_settings())


def test_untrained_prior_reads_the_signals():
    from model.baseline.fusion import rule_distribution

    smiling = {"face": {"frames": 4, "frames_with_face": 4, "au": {"AU12": {"mean": 0.7, "max": 0.9}},
                        "expression": {"happy": 0.8, "neutral": 0.2}},
               "text": {"sentiment": 0.7}}
    frowning = {"face": {"frames": 4, "frames_with_face": 4, "au": {"AU4": {"mean": 0.6, "max": 0.8},
                                                                    "AU24": {"mean": 0.4, "max": 0.6}},
                         "expression": {"angry": 0.7}},
                "text": {"sentiment": -0.6}}
    def top(features):
        distribution = rule_distribution(features, LABELS)
        return max(distribution, key=distribution.get)

    assert top(smiling) == "happy"
    assert top(frowning) == "angry"
    assert top({}) == "neutral"


@pytest.mark.slow
def test_baseline_on_english_and_mandarin_clips(tmp_path):
    en = talking_clip(tmp_path, "en", "I am so happy to see you again, this is wonderful!")
    zh = talking_clip(tmp_path, "zh", "wo3 jin1 tian1 zhen1 de hen3 sheng1 qi4", voice="cmn-latn-pinyin")
    backend = make_backend("baseline", label_set=LABELS)
    try:
        p_en, p_zh, p_silent = backend.predict([
            ClipInput(name="en", video_path=en["video"], audio_path=en["audio"], duration=3.0),
            ClipInput(name="zh", video_path=zh["video"], frames_dir=zh["frames"], audio_path=zh["audio"], duration=3.0),
            ClipInput(name="blank", transcript="", duration=3.0),
        ])
    finally:
        backend.close()
    assert p_en.language == "en" and "happy" in p_en.clues[Aspect.verbal].lower()
    assert re.search(r"AU\d+|action cue", p_en.clues[Aspect.facial])
    assert "Hz" in p_en.clues[Aspect.vocal] and "syllables/s" in p_en.clues[Aspect.vocal]
    assert p_en.distribution["happy"] > p_en.distribution["angry"]
    assert p_zh.language == "zh" and re.search(r"[\u4e00-\u9fff]", p_zh.clues[Aspect.verbal])
    assert "音" in p_zh.clues[Aspect.vocal]  # Chinese clue text
    assert "No video frames" in p_silent.clues[Aspect.facial] and "No audio" in p_silent.clues[Aspect.vocal]
    assert "Nothing is said" in p_silent.clues[Aspect.verbal]


def test_clues_say_plainly_what_could_not_be_measured():
    from model.baseline.clues import measured_clues

    face_unread = {"frames": 8, "frames_with_face": 3, "au": {}, "expression": {"sad": 0.6, "neutral": 0.4}}
    clues, spans = measured_clues({"face": face_unread, "voice": {"has_voice": False},
                                   "speech": {"text": ""}, "scene": {}}, "en")
    assert clues[Aspect.facial] == "A face is visible (3/8 frames) but its movements could not be read; expression model: sad 0.60."
    assert clues[Aspect.vocal] == "The audio is silent: no vocal evidence."
    assert clues[Aspect.verbal] == "Nothing is said: no verbal evidence."
    assert clues[Aspect.scene] == "No video frames, so no scene evidence."
    assert spans == []
    zh, _ = measured_clues({"face": {"frames": 8, "frames_with_face": 0}}, "zh")
    assert zh[Aspect.facial] == "采样画面中未发现人脸。" and zh[Aspect.vocal] == "没有音轨，无法判断语气。"


def test_language_settles_only_after_confident_agreement():
    from model.baseline.backend import LANGUAGE_SETTLES_AFTER

    backend = make_backend("baseline", label_set=LABELS)
    backend._detected_languages = [("zh", 0.99)] * (LANGUAGE_SETTLES_AFTER - 1)
    assert backend.settled_language() is None  # too few clips heard yet
    backend._detected_languages.append(("zh", 0.97))
    assert backend.settled_language() == "zh"
    backend._detected_languages.append(("en", 0.99))
    assert backend.settled_language() is None  # one disagreement turns the shortcut off
    backend._detected_languages = [("zh", 0.99)] * LANGUAGE_SETTLES_AFTER + [("zh", 0.6)]
    assert backend.settled_language() is None  # an unsure detection too


@pytest.mark.slow
def test_clips_of_unknown_language_share_windows_once_the_language_settles(tmp_path):
    from model.baseline.backend import LANGUAGE_SETTLES_AFTER

    clips = [talking_clip(tmp_path, f"c{i}", text) for i, text in
             enumerate(["The weather is lovely today.", "I will call you tomorrow morning."])]
    inputs = [ClipInput(name=f"c{i}", video_path=c["video"], audio_path=c["audio"], duration=3.0)
              for i, c in enumerate(clips)]
    backend = make_backend("baseline", label_set=LABELS)
    try:
        alone = backend.extract_many(inputs[:1])[0]["speech"]
        assert alone["language"] == "en" and alone["language_p"] is not None  # detected for this clip
        backend._detected_languages = [("en", 0.99)] * LANGUAGE_SETTLES_AFTER
        packed = [features["speech"] for features in backend.extract_many(inputs)]
    finally:
        backend.close()
    for speech in packed:
        assert speech["source"] == "asr" and speech["language"] == "en" and speech["text"].strip()
        assert speech["language_p"] is None  # not detected per clip: transcribed as the settled language
    assert "today" in packed[0]["text"].lower()


def test_likely_words_from_a_label_distribution():
    from model.base import likely_words

    assert likely_words({"happy": 0.5, "surprise": 0.3, "sad": 0.15, "angry": 0.05}) == ["happy", "surprise"]
    assert likely_words({"sad": 0.4, "worried": 0.35, "angry": 0.25}) == ["sad", "worried", "angry"]
    assert likely_words({"neutral": 0.1, "happy": 0.05}) == ["neutral"]  # the top label always
