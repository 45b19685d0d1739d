"""Voice: pitch, loudness, voice quality (Praat via parselmouth), pauses and speech time (silero VAD).

Levels are reported against the clip's own median (the speaker's baseline in
this clip), because absolute pitch says more about who speaks than how they feel.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import numpy as np

from model.features.media import SAMPLE_RATE
from model.features.speech import plausible_rate

VERSION = "voice-1"
PITCH_FLOOR, PITCH_CEILING = 75.0, 600.0
MIN_SPEECH_SECONDS = 0.25
_vad_lock = threading.Lock()


@lru_cache(maxsize=1)
def _vad_model():
    from silero_vad import load_silero_vad

    return load_silero_vad(onnx=True)


def speech_segments(audio: np.ndarray) -> list[tuple[float, float]]:
    """Speech stretches (start, end) in seconds from silero VAD."""
    import torch
    from silero_vad import get_speech_timestamps

    if audio.size < SAMPLE_RATE // 10:
        return []
    with _vad_lock:
        model = _vad_model()
        model.reset_states()
        stamps = get_speech_timestamps(torch.from_numpy(audio), model, sampling_rate=SAMPLE_RATE,
                                       return_seconds=True, min_silence_duration_ms=150)
    return [(float(s["start"]), float(s["end"])) for s in stamps]


def _round(value: float | None, digits: int = 3) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), digits)


def _voice_quality(sound) -> dict[str, float | None]:  # noqa: ANN001
    from parselmouth.praat import call

    try:
        points = call(sound, "To PointProcess (periodic, cc)", PITCH_FLOOR, PITCH_CEILING)
        jitter = call(points, "Get jitter (local)", 0, 0, 0.0001, 0.02, 1.3)
        shimmer = call([sound, points], "Get shimmer (local)", 0, 0, 0.0001, 0.02, 1.3, 1.6)
    except Exception:  # Praat refuses clips with too few periods; quality is then unknown.
        jitter = shimmer = None
    harmonicity = sound.to_harmonicity_cc(time_step=0.01, minimum_pitch=PITCH_FLOOR).values[0]
    harmonicity = harmonicity[harmonicity > -100]
    return {"jitter": _round(jitter, 4), "shimmer": _round(shimmer, 4),
            "hnr_db": _round(float(harmonicity.mean())) if harmonicity.size else None}


def _syllable_peaks(intensity_db: np.ndarray, times: np.ndarray, voiced: np.ndarray) -> int:
    """Syllable nuclei: intensity peaks in voiced frames that stand 2 dB above their dips (de Jong style)."""
    from scipy.signal import find_peaks

    if intensity_db.size < 3:
        return 0
    threshold = np.median(intensity_db)
    peaks, _ = find_peaks(intensity_db, prominence=2.0, distance=max(1, int(0.1 / max(times[1] - times[0], 1e-3))))
    return int(sum(1 for p in peaks if intensity_db[p] > threshold and voiced[p]))


def speaker_baseline(voices: list[dict[str, Any]], *, min_clips: int = 3) -> dict[str, Any] | None:
    """A speaker's usual pitch and loudness: medians over their clips' medians (None with too few clips)."""
    pitches = [v["pitch"]["median_hz"] for v in voices if (v.get("pitch") or {}).get("median_hz")]
    if len(pitches) < min_clips:
        return None
    louds = [v["intensity"]["median_db"] for v in voices if (v.get("intensity") or {}).get("median_db")]
    return {"pitch_hz": round(float(np.median(pitches)), 1),
            "loudness_db": round(float(np.median(louds)), 1) if louds else None, "clips": len(pitches)}


def analyze_audio(audio: np.ndarray) -> dict[str, Any]:
    """Prosody of one clip's 16 kHz mono audio."""
    import librosa
    import parselmouth

    duration = audio.size / SAMPLE_RATE
    out: dict[str, Any] = {"version": VERSION, "duration": round(duration, 3)}
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) if audio.size else 0.0
    out["rms_dbfs"] = _round(20 * np.log10(max(rms, 1e-9)), 2)
    segments = speech_segments(audio) if rms > 1e-4 else []
    speech_seconds = sum(e - s for s, e in segments)
    pauses = [b[0] - a[1] for a, b in zip(segments, segments[1:], strict=False) if b[0] - a[1] >= 0.2]
    out.update({
        "speech_segments": [[round(s, 2), round(e, 2)] for s, e in segments],
        "speech_seconds": round(speech_seconds, 3),
        "speech_ratio": round(speech_seconds / duration, 3) if duration else 0.0,
        "pauses": len(pauses),
        "longest_pause": round(max(pauses), 2) if pauses else 0.0,
        "pause_seconds": round(sum(pauses), 2),
    })
    if rms <= 1e-4 or duration < 0.1:
        out.update({"voiced_ratio": 0.0, "has_voice": False})
        return out

    sound = parselmouth.Sound(audio.astype(np.float64), sampling_frequency=SAMPLE_RATE)
    pitch = sound.to_pitch(time_step=0.01, pitch_floor=PITCH_FLOOR, pitch_ceiling=PITCH_CEILING)
    f0 = pitch.selected_array["frequency"]
    f0_times = pitch.xs()
    voiced = f0 > 0
    out["voiced_ratio"] = round(float(voiced.mean()), 3) if f0.size else 0.0
    out["has_voice"] = bool(voiced.sum() >= 10 or speech_seconds >= MIN_SPEECH_SECONDS)
    if voiced.sum() >= 5:
        values, times = f0[voiced], f0_times[voiced]
        median = float(np.median(values))
        high = float(np.percentile(values, 95))
        low = float(np.percentile(values, 5))
        # Intonation at the end: slope over the last half second of voicing, in semitones/s.
        tail = times >= times[-1] - 0.5
        slope = float(np.polyfit(times[tail], 12 * np.log2(values[tail] / median), 1)[0]) if tail.sum() >= 5 else 0.0
        out["pitch"] = {
            "median_hz": _round(median, 1), "p95_hz": _round(high, 1), "p5_hz": _round(low, 1),
            "peak_time": _round(float(times[np.argmin(np.abs(values - high))]), 2),
            "rise_pct": _round(100 * (high / median - 1), 1),
            "range_semitones": _round(12 * np.log2(high / max(low, 1e-6)), 2),
            "sd_semitones": _round(float(np.std(12 * np.log2(values / median))), 2),
            "end_slope_st_per_s": _round(slope, 2),
        }
    intensity = sound.to_intensity(minimum_pitch=PITCH_FLOOR, time_step=0.01)
    db = intensity.values[0]
    db_times = intensity.xs()
    speaking = db > (np.max(db) - 35)
    if speaking.any():
        median_db = float(np.median(db[speaking]))
        out["intensity"] = {
            "median_db": _round(median_db, 1), "p95_db": _round(float(np.percentile(db[speaking], 95)), 1),
            "rise_db": _round(float(np.percentile(db[speaking], 95)) - median_db, 1),
            "sd_db": _round(float(np.std(db[speaking])), 2),
        }
        voiced_at = np.interp(db_times, f0_times, voiced.astype(float)) > 0.5 if f0.size else np.zeros_like(db, bool)
        syllables = _syllable_peaks(db, db_times, voiced_at)
        active = speech_seconds or float(voiced.sum() * 0.01)
        out["syllables_est"] = syllables
        rate = _round(syllables / active, 2) if active > 0.3 else None
        why = plausible_rate(rate)
        out["syllable_rate_est"] = None if why else rate
        if why:
            out["syllable_rate_reason"] = why
    out.update(_voice_quality(sound))
    centroid = librosa.feature.spectral_centroid(y=audio, sr=SAMPLE_RATE)[0]
    out["spectral_centroid_hz"] = _round(float(np.median(centroid)), 1)
    return out
