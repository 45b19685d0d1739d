"""Scene: lighting, colour, motion between sampled frames, people on screen and on-screen text."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import numpy as np

VERSION = "scene-2"
_ocr_lock = threading.Lock()


@lru_cache(maxsize=1)
def _ocr():
    # RapidOCR's own PP-OCRv4 ONNX models from its package folder; detection capped at 480 px for speed.
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR(intra_op_num_threads=2, inter_op_num_threads=1, det_limit_side_len=480,
                    det_limit_type="max", use_cls=False)


def on_screen_lines(rgb: np.ndarray, *, min_score: float = 0.6) -> list[tuple[str, float]]:
    """Text lines read from one frame, each with the height of its centre as a share of the frame's (0 top)."""
    import cv2

    with _ocr_lock:
        result, _ = _ocr()(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    height = max(1, rgb.shape[0])
    return [(line[1].strip(), float(np.mean([point[1] for point in line[0]])) / height)
            for line in (result or []) if line[2] >= min_score and line[1].strip()]


def on_screen_text(rgb: np.ndarray, *, min_score: float = 0.6) -> list[str]:
    """Text lines read from one frame."""
    return [text for text, _ in on_screen_lines(rgb, min_score=min_score)]


# Burnt-in subtitles sit in the lower part of the picture; a channel logo or a caption at the top is not speech.
SUBTITLE_BELOW = 0.55


def _hue_name(hue_deg: float, saturation: float) -> str:
    if saturation < 0.15:
        return "grey"
    for limit, name in ((20, "red"), (45, "orange"), (70, "yellow"), (160, "green"), (260, "blue"),
                        (330, "purple"), (361, "red")):
        if hue_deg < limit:
            return name
    return "red"


def scene_features(images: list[np.ndarray], times: list[float], *, faces: dict[str, Any] | None = None,
                   ocr_frames: int = 1, ocr_timeline: bool = True) -> dict[str, Any]:
    """Clip-level scene statistics from sampled RGB frames; with text on screen, the text of every frame."""
    import cv2

    out: dict[str, Any] = {"version": VERSION, "frames": len(images)}
    if not images:
        return out
    small = [cv2.resize(img, (160, 90), interpolation=cv2.INTER_AREA) for img in images]
    hsv = np.stack([cv2.cvtColor(img, cv2.COLOR_RGB2HSV) for img in small]).astype(np.float32)
    value = hsv[..., 2] / 255.0
    saturation = hsv[..., 1] / 255.0
    # Circular mean of hue weighted by saturation (OpenCV hue is 0..180).
    angle = hsv[..., 0] * (np.pi / 90.0)
    weights = saturation + 1e-6
    hue = float(np.degrees(np.arctan2((np.sin(angle) * weights).sum(), (np.cos(angle) * weights).sum())) % 360)
    rgb_mean = np.stack(small).reshape(-1, 3).mean(0)
    grey = [cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0 for img in small]
    diffs = [float(np.abs(b - a).mean()) for a, b in zip(grey, grey[1:], strict=False)]
    gaps = [max(tb - ta, 1e-3) for ta, tb in zip(times, times[1:], strict=False)]
    motion = [d / g for d, g in zip(diffs, gaps, strict=False)]
    out.update({
        "brightness": round(float(value.mean()), 4),
        "contrast": round(float(np.mean([g.std() for g in grey])), 4),
        "saturation": round(float(saturation.mean()), 4),
        "hue_deg": round(hue, 1),
        "colour": _hue_name(hue, float(saturation.mean())),
        "warmth": round(float((rgb_mean[0] - rgb_mean[2]) / 255.0), 4),
        "motion": round(float(np.mean(motion)), 4) if motion else 0.0,
        "motion_peak_time": times[1 + int(np.argmax(motion))] if motion else None,
        "cut_count": int(sum(1 for d in diffs if d > 0.25)),
        "faces_max": int((faces or {}).get("max_faces", 0)),
        "faces_mean": float((faces or {}).get("mean_faces", 0.0)),
    })
    text: list[str] = []
    timeline: list[dict[str, Any]] = []
    if ocr_frames > 0:
        picks = np.unique(np.linspace(0, len(images) - 1, min(ocr_frames, len(images)) + 2)[1:-1].round().astype(int))
        picks = [int(i) for i in picks] if len(picks) else [len(images) // 2]
        read = {i: on_screen_lines(images[i]) for i in picks}
        # Text on screen: read every sampled frame, so burnt-in subtitles come out line by line over time.
        if ocr_timeline and any(read.values()):
            read.update({i: on_screen_lines(images[i]) for i in range(len(images)) if i not in read})
        for i in sorted(read):
            timeline.append({"t": round(float(times[i]), 3),
                             "lines": [line for line, y in read[i] if y >= SUBTITLE_BELOW]})
            for line, _ in read[i]:
                if line not in text:
                    text.append(line)
    if any(item["lines"] for item in timeline):
        out["text_timeline"] = timeline  # subtitle-like lines only
    out["text"] = text[:10]
    return out
