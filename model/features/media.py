"""Reading clip media: sampled frames (from frames_dir or the video) and 16 kHz mono audio."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000


@dataclass
class Frames:
    """RGB frames (uint8, H x W x 3) with their times in seconds."""

    images: list[np.ndarray]
    times: list[float]


def frames_from_dir(frames_dir: Path, *, max_frames: int, duration: float | None = None,
                    times: list[float] | None = None) -> Frames:
    """JPEG/PNG frames from a folder, evenly thinned to `max_frames`; times from `times`, else spread over `duration`."""
    import cv2

    files = sorted(p for p in Path(frames_dir).iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if not files:
        return Frames([], [])
    picks = np.unique(np.linspace(0, len(files) - 1, min(max_frames, len(files))).round().astype(int))
    step = (duration / len(files)) if duration else 1.0
    images, out_times = [], []
    for i in picks:
        bgr = cv2.imread(str(files[i]))
        if bgr is None:
            continue
        images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if times and len(times) == len(files):
            out_times.append(round(float(times[i]), 3))
        else:
            out_times.append(round(float(i * step + step / 2 if duration else i), 3))
    return Frames(images, out_times)


def frames_from_video(video_path: Path, *, fps: float, max_frames: int, max_side: int = 640) -> Frames:
    """Decode with PyAV, keeping about `fps` frames per second (at most `max_frames`), downscaled."""
    import av

    images, times = [], []
    with av.open(str(video_path)) as container:
        if not container.streams.video:
            return Frames([], [])
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        duration = float(stream.duration * stream.time_base) if stream.duration else (
            container.duration / 1e6 if container.duration else None)
        interval = 1.0 / fps
        if duration and duration * fps > max_frames:
            interval = duration / max_frames
        next_time = 0.0
        for frame in container.decode(stream):
            t = float(frame.time) if frame.time is not None else len(times) * interval
            if t + 1e-6 < next_time:
                continue
            scale = min(1.0, max_side / max(frame.width, frame.height))
            if scale < 1.0:
                frame = frame.reformat(width=int(frame.width * scale) // 2 * 2,
                                       height=int(frame.height * scale) // 2 * 2)
            images.append(frame.to_ndarray(format="rgb24"))
            times.append(round(t, 3))
            next_time = t + interval
            if len(images) >= max_frames:
                break
    return Frames(images, times)


def load_frames(*, video_path: Path | None, frames_dir: Path | None, duration: float | None,
                fps: float = 2.0, max_frames: int = 8, frame_times: list[float] | None = None) -> Frames:
    """Frames from the ingest's frames folder when present, else sampled from the video."""
    if frames_dir and Path(frames_dir).is_dir():
        frames = frames_from_dir(Path(frames_dir), max_frames=max_frames, duration=duration, times=frame_times)
        if frames.images:
            return frames
    if video_path and Path(video_path).is_file():
        return frames_from_video(Path(video_path), fps=fps, max_frames=max_frames)
    return Frames([], [])


def load_audio(path: Path) -> np.ndarray:
    """Mono float32 at 16 kHz (resampled when the file is not)."""
    import soundfile as sf

    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    if rate != SAMPLE_RATE:
        import librosa

        mono = librosa.resample(mono, orig_sr=rate, target_sr=SAMPLE_RATE)
    return np.ascontiguousarray(mono, dtype=np.float32)


def audio_from_video(video_path: Path) -> np.ndarray | None:
    """16 kHz mono audio decoded from a video with PyAV, or None when it has no audio."""
    import av

    with av.open(str(video_path)) as container:
        if not container.streams.audio:
            return None
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        chunks = []
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks).astype(np.float32) if chunks else None
