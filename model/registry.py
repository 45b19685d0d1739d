"""Backends by name. A backend module is imported only when its name is asked for."""

from __future__ import annotations

import importlib
from pathlib import Path

from core.settings import Settings, get_settings
from model.base import ModelBackend

# name -> "module:Class"; later backends (emotion_llm, openai) add a line here.
BACKENDS: dict[str, str] = {
    "baseline": "model.baseline.backend:BaselineBackend",
    "emotion_llm": "model.emotion_llm.backend:EmotionLLMBackend",
    "openai": "model.llm.backend:OpenAIBackend",
}


class UnknownBackend(KeyError):
    pass


def backend_class(name: str) -> type[ModelBackend]:
    try:
        target = BACKENDS[name]
    except KeyError:
        raise UnknownBackend(f"unknown model backend {name!r}; known: {', '.join(sorted(BACKENDS))}") from None
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def make_backend(name: str | None = None, *, settings: Settings | None = None,
                 artifacts_path: Path | None = None, model_version: str | None = None,
                 label_set: list[str] | None = None) -> ModelBackend:
    """Build the named backend (default: `settings.model_backend`)."""
    settings = settings or get_settings()
    cls = backend_class(name or settings.model_backend)
    return cls(settings, artifacts_path=artifacts_path, model_version=model_version, label_set=label_set)
