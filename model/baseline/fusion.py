"""Emotion from features: a rule-based prior that needs no training, and a calibrated
scikit-learn classifier over the same features plus the transcript embedding."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from annotation.embeddings import EMBEDDING_DIM
from model.features.face import AU_FROM_BLENDSHAPES, FER_CLASSES

AUS = tuple(AU_FROM_BLENDSHAPES)
# How much the 512-d transcript embedding counts against the standardised measured features.
EMBEDDING_WEIGHT = 2.0
PRIOR_BLEND = 0.1


def _get(data: dict[str, Any], *path: str, default: float = 0.0) -> float:
    for key in path:
        if not isinstance(data, dict) or key not in data or data[key] is None:
            return default
        data = data[key]
    try:
        value = float(data)
    except (TypeError, ValueError):
        return default
    return value if math.isfinite(value) else default


def _relative(value: float, baseline: float) -> float:
    return value / baseline - 1.0 if value > 0 and baseline > 0 else 0.0


def numeric_features(features: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Named numeric features of one clip (missing modalities give zeros)."""
    face, voice = features.get("face", {}), features.get("voice", {})
    text, scene = features.get("text", {}), features.get("scene", {})
    frames = max(_get(face, "frames"), 1.0)
    out: dict[str, float] = {"face_present": _get(face, "frames_with_face") / frames}
    for au in AUS:
        out[f"{au}_mean"] = _get(face, "au", au, "mean")
        out[f"{au}_max"] = _get(face, "au", au, "max")
    for axis in ("yaw", "pitch", "roll"):
        out[f"head_{axis}_range"] = _get(face, "head", f"{axis}_range") / 30.0
    for name in FER_CLASSES:
        out[f"fer_{name}"] = _get(face, "expression", name)
    out.update({
        "has_voice": float(bool(voice.get("has_voice"))),
        "pitch_rise": _get(voice, "pitch", "rise_pct") / 100.0,
        "pitch_range": _get(voice, "pitch", "range_semitones") / 12.0,
        "pitch_sd": _get(voice, "pitch", "sd_semitones") / 3.0,
        "pitch_vs_speaker": _relative(_get(voice, "pitch", "median_hz"), _get(features.get("speaker", {}), "pitch_hz")),
        "loudness_vs_speaker": (_get(voice, "intensity", "median_db") - _get(features.get("speaker", {}), "loudness_db"))
        / 10.0 if _get(features.get("speaker", {}), "loudness_db") and _get(voice, "intensity", "median_db") else 0.0,
        "pitch_end_slope": _get(voice, "pitch", "end_slope_st_per_s") / 10.0,
        "loudness_rise": _get(voice, "intensity", "rise_db") / 10.0,
        "loudness_sd": _get(voice, "intensity", "sd_db") / 10.0,
        "speech_rate": (speech_rate(features) or 0.0) / 5.0,
        "speech_ratio": _get(voice, "speech_ratio"),
        "pauses": _get(voice, "pauses") / 3.0,
        "longest_pause": _get(voice, "longest_pause"),
        "jitter": _get(voice, "jitter") * 20.0,
        "shimmer": _get(voice, "shimmer") * 5.0,
        "hnr": _get(voice, "hnr_db") / 20.0,
        "sentiment": _get(text, "sentiment"),
        "questions": min(_get(text, "questions"), 3.0),
        "exclamations": min(_get(text, "exclamations"), 3.0),
        "emotion_words": float(len(text.get("emotion_words") or [])),
        "brightness": _get(scene, "brightness"),
        "contrast": _get(scene, "contrast"),
        "saturation": _get(scene, "saturation"),
        "warmth": _get(scene, "warmth"),
        "motion": _get(scene, "motion"),
        "faces": _get(scene, "faces_max"),
        "screen_text": float(bool(scene.get("text"))),
    })
    return out


def speech_rate_and_reason(features: dict[str, dict[str, Any]]) -> tuple[float | None, str | None]:
    """Syllables per second of speech (from the transcript when there is one, else from loudness peaks),
    or None with the reason: nothing measured, or a rate no person speaks at."""
    from model.features.speech import plausible_rate

    voice, speech = features.get("voice", {}), features.get("speech", {})
    seconds = _get(voice, "speech_seconds")
    syllables = _get(speech, "syllables")
    if syllables and seconds > 0.3:
        rate, how = syllables / seconds, f"{syllables:.0f} transcript syllables in {seconds:.1f} s of speech"
    elif voice.get("syllable_rate_est") is not None:
        rate, how = float(voice["syllable_rate_est"]), "loudness peaks"
    else:
        return None, "speaking rate not measured"
    why = plausible_rate(rate)
    return (None, f"{why}: {how}") if why else (rate, None)


def speech_rate(features: dict[str, dict[str, Any]]) -> float | None:
    return speech_rate_and_reason(features)[0]


FEATURE_NAMES = tuple(numeric_features({}).keys())


def feature_matrix(clips: list[dict[str, dict[str, Any]]]) -> tuple[np.ndarray, np.ndarray]:
    """(numeric (N, F), embeddings (N, 512)) for a list of clips' features."""
    numeric = np.array([[numeric_features(f)[n] for n in FEATURE_NAMES] for f in clips], dtype=np.float64)
    embeddings = np.zeros((len(clips), EMBEDDING_DIM), dtype=np.float64)
    for i, f in enumerate(clips):
        vector = (f.get("text") or {}).get("embedding") or []
        if len(vector) == EMBEDDING_DIM:
            embeddings[i] = vector
    return numeric.reshape(len(clips), len(FEATURE_NAMES)), embeddings


# --- rule prior --------------------------------------------------------------

def rule_scores(features: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Evidence for each emotion from measured cues; used untrained and as a floor for unseen labels."""
    f = numeric_features(features)
    neg = max(0.0, -f["sentiment"])
    pos = max(0.0, f["sentiment"])
    arousal = max(0.0, f["pitch_rise"] - 0.15) + max(0.0, f["loudness_rise"] - 0.5) + max(0.0, f["speech_rate"] - 0.9)
    return {
        "neutral": 0.6 + 0.3 * f["fer_neutral"],
        "happy": 2.0 * f["AU12_max"] + 0.8 * f["AU6_max"] + 1.2 * f["fer_happy"] + 1.2 * pos,
        "angry": 1.6 * f["AU4_max"] + 1.0 * f["AU24_max"] + 0.6 * f["AU9_max"] + 1.0 * f["fer_angry"]
        + 0.8 * neg + 0.5 * arousal + 0.2 * f["exclamations"],
        "sad": 1.5 * f["AU15_max"] + 0.6 * f["AU1_max"] + 1.0 * f["fer_sad"] + 0.8 * neg
        + 0.4 * max(0.0, 0.6 - f["speech_rate"]),
        "worried": 1.0 * f["AU1_max"] + 0.6 * f["AU4_max"] + 0.6 * f["AU20_max"] + 1.0 * f["fer_fear"]
        + 0.6 * neg + 0.2 * f["pauses"],
        "fear": 1.0 * f["AU5_max"] + 0.8 * f["AU20_max"] + 1.2 * f["fer_fear"] + 0.4 * neg,
        # FACS surprise raises inner and outer brows together (AU1+2); AU1 alone reads as sadness or worry.
        "surprise": 1.8 * min(f["AU1_max"], f["AU2_max"]) + 1.0 * f["AU26_max"] + 0.8 * f["AU5_max"]
        + 1.0 * f["fer_surprise"] + 0.3 * f["questions"] + 0.3 * arousal,
        "disgust": 1.4 * f["AU9_max"] + 1.0 * f["fer_disgust"] + 0.5 * neg,
        "contempt": 0.8 * abs(f["AU12_max"] - f["AU12_mean"]) + 0.5 * f["fer_disgust"] + 0.3 * neg,
        "doubt": 0.6 * f["AU4_max"] + 0.4 * f["questions"] + 0.3 * f["pauses"],
    }


def rule_distribution(features: dict[str, dict[str, Any]], labels: list[str], *, temperature: float = 0.35) -> dict[str, float]:
    """Softmax of the rule scores over the dataset's labels (unknown labels get a low base score)."""
    scores = rule_scores(features)
    values = np.array([scores.get(label.lower(), 0.3) for label in labels]) / temperature
    probs = np.exp(values - values.max())
    probs /= probs.sum()
    return {label: float(p) for label, p in zip(labels, probs, strict=False)}


# --- trainable classifier -----------------------------------------------------

class FusionClassifier:
    """Standardised measured features + weighted text embedding -> calibrated logistic regression."""

    def __init__(self, labels: list[str]) -> None:
        self.labels = list(labels)
        self.scaler = None
        self.model = None
        self.classes_: list[str] = []

    def _inputs(self, clips: list[dict[str, dict[str, Any]]]) -> np.ndarray:
        numeric, embeddings = feature_matrix(clips)
        return np.hstack([self.scaler.transform(numeric), EMBEDDING_WEIGHT * embeddings])

    def fit(self, clips: list[dict[str, dict[str, Any]]], emotions: list[str]) -> FusionClassifier:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        if len(set(emotions)) < 2:
            raise ValueError("training needs consensus labels of at least two emotions")
        numeric, _ = feature_matrix(clips)
        self.scaler = StandardScaler().fit(numeric)
        x = self._inputs(clips)
        y = np.array(emotions)
        base = LogisticRegression(C=1.0, max_iter=2000)
        smallest = min(int((y == c).sum()) for c in set(emotions))
        # Calibrate when every class has enough examples for cross-validation; plain LR is already probabilistic.
        self.model = CalibratedClassifierCV(base, method="sigmoid", cv=min(3, smallest)) if smallest >= 3 else base
        self.model.fit(x, y)
        self.classes_ = [str(c) for c in self.model.classes_]
        return self

    def predict_proba(self, clips: list[dict[str, dict[str, Any]]]) -> list[dict[str, float]]:
        probs = self.model.predict_proba(self._inputs(clips))
        out = []
        for features, row in zip(clips, probs, strict=False):
            prior = rule_distribution(features, self.labels)
            learned = dict(zip(self.classes_, row, strict=False))
            mixed = {label: (1 - PRIOR_BLEND) * learned.get(label, 0.0) + PRIOR_BLEND * prior[label]
                     for label in self.labels}
            total = sum(mixed.values())
            out.append({k: v / total for k, v in mixed.items()})
        return out

    def save(self, path: Path) -> None:
        import joblib

        joblib.dump({"labels": self.labels, "scaler": self.scaler, "model": self.model,
                     "classes": self.classes_, "features": FEATURE_NAMES}, path)

    @classmethod
    def load(cls, path: Path) -> FusionClassifier:
        import joblib

        data = joblib.load(path)
        if tuple(data["features"]) != FEATURE_NAMES:
            raise ValueError(f"{path} was trained on other features; retrain this version")
        self = cls(data["labels"])
        self.scaler, self.model, self.classes_ = data["scaler"], data["model"], data["classes"]
        return self
