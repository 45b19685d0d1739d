"""Faces: BlazeFace full-range boxes, MediaPipe landmarks/blendshapes/head pose, FER expression vote.

Per frame: detect faces with BlazeFace (anchors, box decoding and weighted NMS
here in numpy), crop a square at 2x the largest face box to 256 px for the
FaceLandmarker (478 points, 52 blendshapes, transform matrix), and run fer's
64x64 expression model on the face box as one weak vote. Per clip the frames
are summarised into AU-like cue tracks with times.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from model.features.models import (
    BLAZEFACE_FULL,
    FACE_LANDMARKER,
    FER_EMOTION,
    package_file,
)

VERSION = "face-1"
DETECT_SIZE = 192
MIN_SCORE = 0.5
NMS_IOU = 0.3
CROP_SIZE = 256
FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

# AU-like cues from ARKit-style blendshapes: AU -> (blendshape names averaged, description).
AU_FROM_BLENDSHAPES: dict[str, tuple[tuple[str, ...], str]] = {
    "AU1": (("browInnerUp",), "inner brow raiser"),
    "AU2": (("browOuterUpLeft", "browOuterUpRight"), "outer brow raiser"),
    "AU4": (("browDownLeft", "browDownRight"), "brow lowerer"),
    "AU5": (("eyeWideLeft", "eyeWideRight"), "upper lid raiser"),
    "AU6": (("cheekSquintLeft", "cheekSquintRight"), "cheek raiser"),
    "AU7": (("eyeSquintLeft", "eyeSquintRight"), "lid tightener"),
    "AU9": (("noseSneerLeft", "noseSneerRight"), "nose wrinkler"),
    "AU12": (("mouthSmileLeft", "mouthSmileRight"), "lip corner puller"),
    "AU15": (("mouthFrownLeft", "mouthFrownRight"), "lip corner depressor"),
    "AU17": (("mouthShrugLower",), "chin raiser"),
    "AU20": (("mouthStretchLeft", "mouthStretchRight"), "lip stretcher"),
    "AU24": (("mouthPressLeft", "mouthPressRight"), "lip pressor"),
    "AU26": (("jawOpen",), "jaw drop"),
    "AU43": (("eyeBlinkLeft", "eyeBlinkRight"), "eyes closed"),
}
AU_ACTIVE = 0.3  # a cue counts as shown from this intensity on


def _ssd_anchors() -> np.ndarray:
    """Full-range BlazeFace anchors: a 48x48 grid (stride 4 on 192 px), one anchor per cell, (N, 2)."""
    grid = DETECT_SIZE // 4
    ys, xs = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    return np.stack([(xs.ravel() + 0.5) / grid, (ys.ravel() + 0.5) / grid], axis=1).astype(np.float32)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box (4,) [x0, y0, x1, y1] with boxes (M, 4)."""
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou: float = NMS_IOU) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's weighted NMS: overlapping boxes are averaged by score. boxes (N, 4), scores (N,)."""
    order = np.argsort(-scores)
    boxes, scores = boxes[order], scores[order]
    remaining = np.ones(len(scores), dtype=bool)
    kept = []
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        overlap = _iou(boxes[i], boxes) > iou
        group = overlap & remaining
        weights = scores[group]
        kept.append(((boxes[group] * weights[:, None]).sum(0) / weights.sum(), float(scores[i])))
        remaining &= ~group
    return kept


@dataclass
class FaceBox:
    """A face in pixel coordinates of the analysed frame."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float

    @property
    def area(self) -> float:
        return max(0.0, self.x1 - self.x0) * max(0.0, self.y1 - self.y0)


@dataclass
class FrameFaces:
    boxes: list[FaceBox] = field(default_factory=list)
    landmarks: int = 0
    blendshapes: dict[str, float] = field(default_factory=dict)
    head_pose: dict[str, float] = field(default_factory=dict)  # yaw, pitch, roll in degrees
    expression: dict[str, float] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return bool(self.boxes)


def _pose_from_matrix(matrix: np.ndarray) -> dict[str, float]:
    """Yaw/pitch/roll (degrees) from the landmarker's 4x4 face transform."""
    r = np.asarray(matrix, dtype=float)[:3, :3]
    pitch = math.degrees(math.atan2(r[2, 1], r[2, 2]))
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -r[2, 0]))))
    roll = math.degrees(math.atan2(r[1, 0], r[0, 0]))
    return {"yaw": round(yaw, 2), "pitch": round(pitch, 2), "roll": round(roll, 2)}


class FaceAnalyzer:
    """Loads the three face models on first use. Not thread-safe: one per worker thread."""

    def __init__(self, *, threads: int = 2) -> None:
        self.threads = threads
        self._lock = threading.Lock()

    @cached_property
    def _detector(self):
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(package_file(*BLAZEFACE_FULL)), num_threads=self.threads)
        interpreter.allocate_tensors()
        return interpreter

    @cached_property
    def _anchors(self) -> np.ndarray:
        return _ssd_anchors()

    @cached_property
    def _fer(self):
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(package_file(*FER_EMOTION)), num_threads=1)
        interpreter.allocate_tensors()
        return interpreter

    @cached_property
    def _landmarker(self):
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(package_file(*FACE_LANDMARKER))),
            running_mode=vision.RunningMode.IMAGE,
            num_faces=1,
            min_face_detection_confidence=0.3,
            min_face_presence_confidence=0.3,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        return vision.FaceLandmarker.create_from_options(options)

    def close(self) -> None:
        if "_landmarker" in self.__dict__:
            self.__dict__.pop("_landmarker").close()

    # --- detection -------------------------------------------------------

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        """Face boxes in pixel coordinates, best first."""
        import cv2

        h, w = rgb.shape[:2]
        scale = DETECT_SIZE / max(h, w)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        canvas = np.zeros((DETECT_SIZE, DETECT_SIZE, 3), dtype=np.float32)
        top, left = (DETECT_SIZE - nh) // 2, (DETECT_SIZE - nw) // 2
        canvas[top:top + nh, left:left + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
        tensor = (canvas / 127.5 - 1.0)[None].astype(np.float32)
        detector = self._detector
        detector.set_tensor(detector.get_input_details()[0]["index"], tensor)
        detector.invoke()
        outputs = detector.get_output_details()
        raw_boxes = detector.get_tensor(outputs[0]["index"])[0]
        raw_scores = detector.get_tensor(outputs[1]["index"])[0, :, 0]
        scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores, -80, 80)))
        keep = scores > MIN_SCORE
        if not keep.any():
            return []
        raw, anchors = raw_boxes[keep], self._anchors[keep]
        centre = raw[:, :2] / DETECT_SIZE + anchors
        half = raw[:, 2:4] / DETECT_SIZE / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)  # x0, y0, x1, y1 in 0..1 of the canvas
        found = []
        for box, score in weighted_nms(boxes, scores[keep]):
            # Undo the letterbox and scale back to the frame.
            x0, x1 = ((box[[0, 2]] * DETECT_SIZE) - left) / scale
            y0, y1 = ((box[[1, 3]] * DETECT_SIZE) - top) / scale
            fb = FaceBox(float(np.clip(x0, 0, w)), float(np.clip(y0, 0, h)),
                         float(np.clip(x1, 0, w)), float(np.clip(y1, 0, h)), score)
            if fb.area > 16:
                found.append(fb)
        return sorted(found, key=lambda b: -b.score)

    # --- per face --------------------------------------------------------

    def expression(self, rgb: np.ndarray, box: FaceBox) -> dict[str, float]:
        """fer's 7-class expression probabilities for the face box."""
        import cv2

        crop = rgb[int(box.y0):int(box.y1), int(box.x0):int(box.x1)]
        if crop.size == 0:
            return {}
        grey = cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (64, 64)).astype(np.float32) / 255.0
        tensor = ((grey - 0.5) * 2.0)[None, :, :, None]
        fer = self._fer
        fer.set_tensor(fer.get_input_details()[0]["index"], tensor)
        fer.invoke()
        probs = fer.get_tensor(fer.get_output_details()[0]["index"])[0].astype(float)
        if not math.isclose(probs.sum(), 1.0, abs_tol=0.05) or (probs < 0).any():
            probs = np.exp(probs - probs.max())
            probs /= probs.sum()
        return {name: round(float(p), 4) for name, p in zip(FER_CLASSES, probs, strict=False)}

    def landmarks(self, rgb: np.ndarray, box: FaceBox) -> tuple[int, dict[str, float], dict[str, float]]:
        """(landmark count, blendshapes, head pose) from a square crop at 2x the face box."""
        import cv2
        import mediapipe as mp

        h, w = rgb.shape[:2]
        cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
        side = 2.0 * max(box.x1 - box.x0, box.y1 - box.y0)
        x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
        s = int(round(side))
        padded = np.zeros((s, s, 3), dtype=np.uint8)
        sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(w, x0 + s), min(h, y0 + s)
        if sx1 <= sx0 or sy1 <= sy0:
            return 0, {}, {}
        padded[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
        crop = np.ascontiguousarray(cv2.resize(padded, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA))
        result = self._landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=crop))
        if not result.face_landmarks:
            return 0, {}, {}
        shapes = {c.category_name: round(float(c.score), 4) for c in result.face_blendshapes[0]} \
            if result.face_blendshapes else {}
        pose = _pose_from_matrix(result.facial_transformation_matrixes[0]) \
            if result.facial_transformation_matrixes else {}
        return len(result.face_landmarks[0]), shapes, pose

    def analyze_frame(self, rgb: np.ndarray) -> FrameFaces:
        with self._lock:
            boxes = self.detect(rgb)
            if not boxes:
                return FrameFaces()
            main = max(boxes, key=lambda b: b.area)
            count, shapes, pose = self.landmarks(rgb, main)
            return FrameFaces(boxes=boxes, landmarks=count, blendshapes=shapes, head_pose=pose,
                              expression=self.expression(rgb, main))


def au_cues(blendshapes: dict[str, float]) -> dict[str, float]:
    """AU-like intensities (0..1) from one frame's blendshapes."""
    out = {}
    for au, (names, _) in AU_FROM_BLENDSHAPES.items():
        values = [blendshapes[n] for n in names if n in blendshapes]
        if values:
            out[au] = round(float(np.mean(values)), 4)
    return out


def summarise(frames: list[FrameFaces], times: list[float]) -> dict[str, Any]:
    """Clip-level facial features: presence, AU tracks (mean, peak, onset time), head movement, expression."""
    with_face = [(f, t) for f, t in zip(frames, times, strict=False) if f.found]
    summary: dict[str, Any] = {
        "version": VERSION,
        "frames": len(frames),
        "frames_with_face": len(with_face),
        "max_faces": max((len(f.boxes) for f in frames), default=0),
        "mean_faces": round(float(np.mean([len(f.boxes) for f in frames])), 3) if frames else 0.0,
        "face_score": round(float(np.mean([f.boxes[0].score for f, _ in with_face])), 4) if with_face else 0.0,
        "landmarks": max((f.landmarks for f in frames), default=0),
        "face_area": 0.0,
        "au": {},
        "blendshapes_mean": {},
        "head": {},
        "expression": {},
    }
    if not with_face:
        return summary
    tracked = [(f, t) for f, t in with_face if f.blendshapes]
    if tracked:
        tracks: dict[str, list[tuple[float, float]]] = {}
        for f, t in tracked:
            for au, value in au_cues(f.blendshapes).items():
                tracks.setdefault(au, []).append((t, value))
        for au, points in tracks.items():
            values = np.array([v for _, v in points])
            peak = int(values.argmax())
            onset = next((t for t, v in points if v >= AU_ACTIVE), None)
            summary["au"][au] = {"mean": round(float(values.mean()), 4), "max": round(float(values.max()), 4),
                                 "peak_time": points[peak][0], "onset": onset}
        names = tracked[0][0].blendshapes.keys()
        summary["blendshapes_mean"] = {n: round(float(np.mean([f.blendshapes.get(n, 0.0) for f, _ in tracked])), 4)
                                       for n in names}
    posed = [f.head_pose for f, _ in with_face if f.head_pose]
    if posed:
        head = {}
        for axis in ("yaw", "pitch", "roll"):
            values = np.array([p[axis] for p in posed])
            head[f"{axis}_mean"] = round(float(values.mean()), 2)
            head[f"{axis}_range"] = round(float(values.max() - values.min()), 2)
        summary["head"] = head
    expressions = [f.expression for f, _ in with_face if f.expression]
    if expressions:
        summary["expression"] = {c: round(float(np.mean([e[c] for e in expressions])), 4) for c in FER_CLASSES}
    return summary


def analyze_frames(analyzer: FaceAnalyzer, images: list[np.ndarray], times: list[float]) -> dict[str, Any]:
    frames = [analyzer.analyze_frame(img) for img in images]
    summary = summarise(frames, times)
    if frames and images:
        h, w = images[0].shape[:2]
        areas = [max(b.area for b in f.boxes) / (h * w) for f in frames if f.found]
        summary["face_area"] = round(float(np.mean(areas)), 4) if areas else 0.0
    return summary
