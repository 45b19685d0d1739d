"""`emotion_llm`: the ModelBackend over a local emotion LLM (GPU when there is one, else CPU)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from core.vocabulary import DEFAULT_LABEL_SET, LABEL_SETS
from model.base import ClipInput, ClipPrediction, ModelBackend, TrainedArtifacts, TrainingSnapshot
from model.emotion_llm.common import read_config
from model.emotion_llm.loading import checkpoint_problems, fingerprint, mode_of

NAME = "emotion_llm"


class EmotionLLMBackend(ModelBackend):
    name = NAME

    def __init__(self, settings, **kwargs) -> None:  # noqa: ANN001
        super().__init__(settings, **kwargs)
        self.progress = None

    def report_to(self, progress: Any) -> None:
        """Where training reports steps and loss, and whose `check_cancelled` it honours between steps."""
        self.progress = progress

    # --- configuration ------------------------------------------------------------------------------

    @cached_property
    def version_config(self) -> dict[str, Any]:
        return read_config(self.artifacts_path)

    @cached_property
    def labels(self) -> list[str]:
        if self.label_set:
            return list(self.label_set)
        if self.version_config.get("label_set"):
            return list(self.version_config["label_set"])
        return list(LABEL_SETS[DEFAULT_LABEL_SET])

    def problems(self) -> list[str]:
        problems = checkpoint_problems(self.settings)
        if self.artifacts_path is not None:
            if not self.artifacts_path.is_dir():
                problems.append(f"version {self.model_version}: its folder {self.artifacts_path} is missing")
            elif not (self.artifacts_path / "adapter").is_dir():
                problems.append(f"version {self.model_version}: {self.artifacts_path} holds no adapter/")
            base = self.version_config.get("base") or {}
            now = self._base_fingerprint()
            if base and now and base.get("lm") and now.get("lm") and \
                    {k: v for k, v in base["lm"].items() if k != "path"} != \
                    {k: v for k, v in now["lm"].items() if k != "path"}:
                problems.append(f"version {self.model_version} was trained on another base model "
                                f"({base['lm'].get('model_type')}, {base['lm'].get('hidden_size')} wide) than the "
                                "configured one")
        return problems

    def _base_fingerprint(self) -> dict[str, Any]:
        s = self.settings
        lm = s.emotion_llm_checkpoint if mode_of(s) == "multimodal" else s.emotion_llm_lm
        return {"mode": mode_of(s), "lm": fingerprint(lm), "vision": fingerprint(s.emotion_llm_vision),
                "audio": fingerprint(s.emotion_llm_audio)}

    # --- loading ------------------------------------------------------------------------------------

    @cached_property
    def _model(self):  # noqa: ANN202
        from model.emotion_llm.runtime import load_model

        config = self.version_config
        return load_model(self.settings, projector=config.get("projector"), queries=config.get("query_tokens"))

    def _activate(self) -> bool:
        """Put this version's adapter (and projectors) on the shared model; True when media tokens mean something."""
        folder = self.artifacts_path
        if folder is None and self.settings.emotion_llm_adapter is not None:
            folder = self.settings.emotion_llm_adapter  # the starting adapter stands in for "untrained"
        return self._model.use_version(folder)

    @cached_property
    def _predictor(self):  # noqa: ANN202
        from model.emotion_llm.runtime import Predictor

        return Predictor(self._model, self.labels, self.settings, model_version=self.model_version,
                         activate=self._activate)

    # --- evidence: the baseline's measured features --------------------------------------------------

    @cached_property
    def _evidence(self):  # noqa: ANN202
        from model.baseline.backend import BaselineBackend

        return BaselineBackend(self.settings, label_set=self.labels)

    def feature_versions(self) -> dict[str, str]:
        from model.baseline.backend import EXTRACTOR_VERSIONS

        return dict(EXTRACTOR_VERSIONS)

    def extract_features(self, clip: ClipInput) -> dict[str, dict[str, Any]]:
        return self._evidence.extract_features(clip)

    def extract_many(self, clips: list[ClipInput]) -> list[dict[str, dict[str, Any]] | Exception]:
        return self._evidence.extract_many(clips)

    def _with_evidence(self, clips: list[ClipInput]) -> list[ClipInput | Exception]:
        """Clips with media but without current features get the baseline's measurements first."""
        versions = self.feature_versions()
        out: list[ClipInput | Exception] = list(clips)
        todo = [i for i, c in enumerate(clips)
                if (c.video_path or c.audio_path or c.frames_dir) and
                not all((c.features.get(k) or {}).get("version") == v for k, v in versions.items())]
        if todo:
            for i, features in zip(todo, self.extract_many([clips[i] for i in todo]), strict=True):
                out[i] = features if isinstance(features, Exception) else \
                    clips[i].model_copy(update={"features": features})
        return out

    # --- the contract ---------------------------------------------------------------------------------

    def predict_batches(self, clips: list[ClipInput]) -> Iterator[list[tuple[int, ClipPrediction | Exception]]]:
        """(index, prediction or the clip's error) per batch, as batches finish."""
        ready = self._with_evidence(clips)
        failed = [(i, c) for i, c in enumerate(ready) if isinstance(c, Exception)]
        if failed:
            yield failed
        good = [i for i, c in enumerate(ready) if not isinstance(c, Exception)]
        for batch in self._predictor.predict_batches([ready[i] for i in good]):
            yield [(good[j], result) for j, result in batch]

    def predict_many(self, clips: list[ClipInput]) -> list[ClipPrediction | Exception]:
        out: list[ClipPrediction | Exception | None] = [None] * len(clips)
        for batch in self.predict_batches(clips):
            for i, result in batch:
                out[i] = result
        return out  # type: ignore[return-value]

    def predict(self, clips: list[ClipInput]) -> list[ClipPrediction]:
        results = self.predict_many(clips)
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results  # type: ignore[return-value]

    def train(self, snapshot: TrainingSnapshot, *, inputs: dict[int, ClipInput] | None = None) -> TrainedArtifacts:
        """LoRA (+ projector) SFT on the snapshot's training clips; the version stores only those weights."""
        from model.emotion_llm.training import train_version_folder

        folder = self.settings.data_dir / "models" / f"{self.name}-{snapshot.content_hash[:10]}-{uuid.uuid4().hex[:6]}"
        metrics, config = train_version_folder(self.settings, snapshot, output=folder, inputs=inputs,
                                               progress=self.progress)
        config.update({"backend": self.name, "base": self._base_fingerprint()})
        from model.emotion_llm.training import write_config

        write_config(folder, config)
        return TrainedArtifacts(path=folder, config=config, train_metrics=metrics)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "backend": self.name,
            "model_version": self.model_version,
            "trained": bool(self.artifacts_path),
            "labels": self.labels,
            "mode": mode_of(self.settings),
            "problems": self.problems(),
        }
        if "torch" in sys.modules:  # describe stays cheap for pages: torch is not imported for it
            from model.emotion_llm.loading import device_of

            out["device"] = str(device_of(self.settings))
        else:
            out["device"] = self.settings.emotion_llm_device
        if "_model" in self.__dict__:
            out["models"] = self._model.describe_models()
        else:
            s = self.settings
            out["models"] = {k: str(v) for k, v in (("multimodal checkpoint", s.emotion_llm_checkpoint),
                                                    ("language model", s.emotion_llm_lm), ("vision encoder", s.emotion_llm_vision),
                                                    ("audio encoder", s.emotion_llm_audio)) if v}
        if self.artifacts_path:
            out["adapter"] = str(Path(self.artifacts_path) / "adapter")
        return out

    def close(self) -> None:
        if "_evidence" in self.__dict__:
            self._evidence.close()
