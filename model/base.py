"""The one contract every model backend honours: predict, train, describe.

Backends are built from settings (plus, for a trained version, its artifacts
folder) and load weights lazily on first use, so importing or constructing one
is cheap. Results are pydantic models stamped with the model version.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator

from core.settings import Settings
from core.vocabulary import Aspect


class Span(BaseModel):
    """A stretch of the clip that grounds one aspect's clue."""

    aspect: Aspect
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    label: str = ""


class ClipInput(BaseModel):
    """What a backend needs about one clip: absolute media paths, transcript, cached features."""

    name: str
    clip_id: int | None = None
    video_path: Path | None = None
    audio_path: Path | None = None
    frames_dir: Path | None = None
    duration: float | None = None
    # Times (s) of the files in frames_dir, in name order, when ingest recorded them.
    frame_times: list[float] = Field(default_factory=list)
    transcript: str = ""
    transcript_words: list[dict[str, Any]] = Field(default_factory=list)
    # "en", "zh", or None to detect from the transcript.
    language: str | None = None
    # Which transcript the clip keeps: the dataset's setting (annotation.ingest.transcripts.TRANSCRIPT_SOURCES).
    transcript_mode: str = "best"
    # Cached extractor outputs keyed by extractor name (see ClipFeature).
    features: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # The speaker's usual voice over their other clips (`model.features.voice.speaker_baseline`).
    speaker_baseline: dict[str, Any] | None = None


class ClipPrediction(BaseModel):
    clip_name: str
    clip_id: int | None = None
    clues: dict[Aspect, str]
    emotion: str
    distribution: dict[str, float]
    uncertainty: float = Field(ge=0.0, le=1.0)
    spans: list[Span] = Field(default_factory=list)
    # Open-vocabulary emotion words (any words; OV-MER / MER-FG), most likely first.
    emotion_words: list[str] = Field(default_factory=list)
    language: str = "en"
    model_version: str
    # Clues a verification step found contradicted by the measurements: aspect -> why (see model/notes.py).
    flags: dict[Aspect, str] = Field(default_factory=dict)

    @field_validator("clues")
    @classmethod
    def _all_aspects(cls, value: dict[Aspect, str]) -> dict[Aspect, str]:
        missing = [a.value for a in Aspect if a not in value]
        if missing:
            raise ValueError(f"clues lack aspects: {', '.join(missing)}")
        return value

    @field_validator("distribution")
    @classmethod
    def _sums_to_one(cls, value: dict[str, float]) -> dict[str, float]:
        total = sum(value.values())
        if not value or not math.isclose(total, 1.0, abs_tol=1e-3):
            raise ValueError(f"distribution must sum to 1, got {total:.4f}")
        return value


class TrainingItem(BaseModel):
    """One consensus label frozen into a snapshot."""

    clip_id: int
    clip_name: str
    consensus_id: int
    emotion: str | None
    clues: dict[str, str] = Field(default_factory=dict)
    language: str | None = None
    features: dict[str, dict[str, Any]] = Field(default_factory=dict)
    speaker_baseline: dict[str, Any] | None = None


class TrainingSnapshot(BaseModel):
    """Consensus labels frozen for one training run; `held_out` is never trained on."""

    dataset_id: int | None = None
    label_set: list[str]
    content_hash: str
    train: list[TrainingItem]
    held_out: list[TrainingItem]

    def summary(self) -> dict[str, Any]:
        return {
            "dataset_id": self.dataset_id,
            "content_hash": self.content_hash,
            "consensus_ids": sorted(i.consensus_id for i in self.train + self.held_out),
            "train_clip_ids": sorted(i.clip_id for i in self.train),
            "held_out_clip_ids": sorted(i.clip_id for i in self.held_out),
            "label_set": self.label_set,
        }


class TrainedArtifacts(BaseModel):
    """What `train` wrote: a folder under data_dir/models and the config to rebuild the backend."""

    path: Path
    config: dict[str, Any] = Field(default_factory=dict)
    train_metrics: dict[str, Any] = Field(default_factory=dict)


def likely_words(distribution: dict[str, float], *, share: float = 0.2, most: int = 3) -> list[str]:
    """An open-vocabulary set from a label distribution: the labels holding at least `share`, most likely
    first (the top label always), at most `most` of them; for backends that predict only a label set."""
    ranked = sorted(distribution.items(), key=lambda kv: (-kv[1], kv[0]))
    return [label for rank, (label, p) in enumerate(ranked[:most]) if rank == 0 or p >= share]


def normalised_entropy(distribution: dict[str, float]) -> float:
    """Entropy of a distribution divided by its maximum: 0 certain, 1 uniform."""
    probs = [p for p in distribution.values() if p > 0]
    if len(distribution) < 2:
        return 0.0
    entropy = -sum(p * math.log(p) for p in probs)
    return float(min(1.0, max(0.0, entropy / math.log(len(distribution)))))


class ModelBackend(ABC):
    """A model that pre-annotates clips and retrains on consensus."""

    name: str = ""

    def __init__(self, settings: Settings, *, artifacts_path: Path | None = None,
                 model_version: str | None = None, label_set: list[str] | None = None) -> None:
        self.settings = settings
        self.artifacts_path = Path(artifacts_path) if artifacts_path else None
        self.model_version = model_version or f"{self.name}-untrained"
        self.label_set = list(label_set) if label_set else None

    @abstractmethod
    def predict(self, clips: list[ClipInput]) -> list[ClipPrediction]:
        """One prediction per clip, in order."""

    @abstractmethod
    def train(self, snapshot: TrainingSnapshot) -> TrainedArtifacts:
        """Fit on `snapshot.train` and write artifacts under the data directory."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Name, version, what it runs on and which models it uses."""

    def predict_as_completed(self, clips: list[ClipInput]) -> Iterator[tuple[int, ClipPrediction | Exception]]:
        """(index, prediction) as each clip finishes, so callers can store it at once; a clip that fails
        gets its exception in its place. Default: `predict` all, then yield them in order."""
        yield from enumerate(self.predict(clips))

    def run_summary(self) -> dict[str, Any]:
        """What this backend spent so far (requests, tokens, cost), for a job's result; {} when nothing to say."""
        return {}

    def extract_features(self, clip: ClipInput) -> dict[str, dict[str, Any]]:
        """Per-extractor features worth caching; backends without any return {}."""
        return {}

    def extract_many(self, clips: list[ClipInput]) -> list[dict[str, dict[str, Any]] | Exception]:
        """`extract_features` for each clip; a clip that fails gets its exception in its place."""
        out: list[dict[str, dict[str, Any]] | Exception] = []
        for clip in clips:
            try:
                out.append(self.extract_features(clip))
            except Exception as error:  # noqa: BLE001 — the caller records it per clip
                out.append(error)
        return out

    def feature_versions(self) -> dict[str, str]:
        """Extractor name -> version, so cached features are reused only when current."""
        return {}

    def close(self) -> None:  # noqa: B027 — optional hook: most backends hold nothing to release
        """Release loaded models (native handles)."""
