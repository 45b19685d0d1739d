"""Media processing for one file: probe, validate, transcode, derive.

One ffmpeg run per clip writes every derived file at once: a browser-safe MP4
(H.264 yuv420p + AAC, `+faststart`), a 16 kHz mono WAV, sampled JPEG frames and
a thumbnail. Waveform peaks come from the WAV. Functions here take paths and
return plain data, so they run in worker processes and test without a database.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".ts"}
AUDIO_SUFFIXES = {".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".opus"}
MEDIA_SUFFIXES = VIDEO_SUFFIXES | AUDIO_SUFFIXES

FRAMES_PER_SECOND = 2.0  # sampled frames for the model and the clip browser
FRAME_WIDTH = 640
MAX_VIDEO_WIDTH = 1280
PEAKS = 800  # waveform bins
DONE_MARKER = "media.json"


class MediaError(ValueError):
    """A file that cannot become a clip; the message says why, for the person who imported it."""


@dataclass
class Probe:
    duration: float
    has_video: bool
    has_audio: bool
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None


@dataclass
class MediaResult:
    """What ingest derived from one file. Paths are relative to the output folder's parent's parent."""

    content_hash: str
    size_bytes: int
    probe: Probe
    video_path: str | None = None  # browser-safe MP4 (audio-only files get an AAC-only MP4)
    audio_path: str | None = None  # 16 kHz mono WAV
    thumbnail_path: str | None = None
    frames_dir: str | None = None
    frame_times: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> MediaResult:
        data = json.loads(text)
        data["probe"] = Probe(**data["probe"])
        return cls(**data)


@lru_cache(maxsize=1)
def ffmpeg_binary() -> str:
    """The system ffmpeg when installed, else the static binary imageio-ffmpeg ships."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def file_hash(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def validate_file(path: Path, *, max_bytes: int) -> int:
    """Cheap checks before any decoding. Returns the size in bytes."""
    if not path.exists():
        raise MediaError(f"file not found: {path.name}")
    if not path.is_file():
        raise MediaError(f"not a file: {path.name}")
    if path.suffix.lower() not in MEDIA_SUFFIXES:
        raise MediaError(f"unsupported file type {path.suffix or '(none)'}: expected one of "
                         + ", ".join(sorted(MEDIA_SUFFIXES)))
    size = path.stat().st_size
    if size == 0:
        raise MediaError("the file is empty (0 bytes)")
    if size > max_bytes:
        raise MediaError(f"the file is {size / 1e6:.0f} MB, over the {max_bytes / 1e6:.0f} MB limit")
    return size


def probe(path: Path) -> Probe:
    """Read the container with PyAV; a file it cannot read is not media."""
    import av

    try:
        with av.open(str(path)) as container:
            video = next(iter(container.streams.video), None)
            audio = next(iter(container.streams.audio), None)
            if video is None and audio is None:
                raise MediaError("the file has neither a video nor an audio stream")
            duration = None
            if container.duration:
                duration = container.duration / 1_000_000
            for stream in (video, audio):
                if duration is None and stream is not None and stream.duration and stream.time_base:
                    duration = float(stream.duration * stream.time_base)
            fps = None
            if video is not None and video.average_rate:
                fps = float(video.average_rate)
            return Probe(
                duration=float(duration or 0.0),
                has_video=video is not None,
                has_audio=audio is not None,
                width=video.codec_context.width if video is not None else None,
                height=video.codec_context.height if video is not None else None,
                fps=fps,
                video_codec=video.codec_context.name if video is not None else None,
                audio_codec=audio.codec_context.name if audio is not None else None,
            )
    except MediaError:
        raise
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, IndexError) as error:
        raise MediaError(f"not a readable media file ({_short(str(error))})") from None


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ffmpeg_args(source: Path, out: Path, info: Probe) -> list[str]:
    args = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(source)]
    if info.has_video:
        scale = f"scale='min({MAX_VIDEO_WIDTH},iw)':-2:flags=bicubic,format=yuv420p"
        args += ["-map", "0:v:0"] + (["-map", "0:a:0"] if info.has_audio else [])
        args += ["-vf", scale, "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-profile:v", "high"]
        if info.has_audio:
            args += ["-c:a", "aac", "-b:a", "128k", "-ac", "2"]
        args += ["-movflags", "+faststart", str(out / "video.mp4")]
        frames = out / "frames"
        frames.mkdir(exist_ok=True)
        args += ["-map", "0:v:0", "-vf", f"fps={FRAMES_PER_SECOND},scale='min({FRAME_WIDTH},iw)':-2",
                 "-q:v", "3", str(frames / "%05d.jpg")]
    else:
        args += ["-map", "0:a:0", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(out / "video.mp4")]
    if info.has_audio:
        args += ["-map", "0:a:0", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(out / "audio.wav")]
    return args


def _thumbnail(frames: list[Path], out: Path) -> Path | None:
    if not frames:
        return None
    import cv2

    # The middle frame says more about a clip than its first (often a fade or a cut).
    image = cv2.imread(str(frames[len(frames) // 2]))
    if image is None:
        return None
    height, width = image.shape[:2]
    scale = 320 / max(width, 1)
    thumb = cv2.resize(image, (320, max(2, int(round(height * scale)))), interpolation=cv2.INTER_AREA)
    path = out / "thumbnail.jpg"
    cv2.imwrite(str(path), thumb, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return path


def waveform_peaks(wav: Path, bins: int = PEAKS) -> list[float]:
    """Max absolute amplitude per bin, scaled to [0, 1] against the loudest bin."""
    import soundfile

    samples, _rate = soundfile.read(str(wav), dtype="float32", always_2d=False)
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    if samples.size == 0:
        return []
    bins = min(bins, samples.size)
    edges = np.linspace(0, samples.size, bins + 1).astype(int)
    peaks = np.maximum.reduceat(np.abs(samples), edges[:-1])
    top = float(peaks.max())
    return [round(float(p) / top, 4) if top > 0 else 0.0 for p in peaks]


def process_file(source: Path, out: Path, *, max_bytes: int, content_hash: str | None = None) -> MediaResult:
    """Derive every media file for `source` into folder `out`; idempotent and resumable.

    A folder that already holds a finished result (its marker file) is reused.
    Raises MediaError with a reader-friendly reason for bad input.
    """
    marker = out / DONE_MARKER
    if marker.exists():
        return MediaResult.from_json(marker.read_text())
    size = validate_file(source, max_bytes=max_bytes)
    info = probe(source)
    digest = content_hash or file_hash(source)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    run = subprocess.run(_ffmpeg_args(source, partial, info), capture_output=True, text=True, errors="replace")
    if run.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise MediaError(f"could not decode the file ({_short(run.stderr.strip().splitlines()[-1] if run.stderr.strip() else 'ffmpeg failed')})")
    try:
        produced = probe(partial / "video.mp4")
    except MediaError as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise MediaError(f"decoding produced no playable output: {error}") from None
    if info.duration > 1.0 and produced.duration < 0.9 * info.duration:
        shutil.rmtree(partial, ignore_errors=True)
        raise MediaError(f"the file is truncated or damaged: only {produced.duration:.1f} s of "
                         f"{info.duration:.1f} s could be decoded")
    if not info.duration:
        info.duration = produced.duration
    frames = sorted((partial / "frames").glob("*.jpg")) if info.has_video else []
    if info.has_video and not frames:
        shutil.rmtree(partial, ignore_errors=True)
        raise MediaError("the video stream has no decodable frames")
    _thumbnail(frames, partial)
    wav = partial / "audio.wav"
    peaks = waveform_peaks(wav) if wav.exists() else []
    if out.exists():
        shutil.rmtree(out)
    os.replace(partial, out)
    prefix = Path(out.parent.name) / out.name
    result = MediaResult(
        content_hash=digest,
        size_bytes=size,
        probe=info,
        video_path=str(prefix / "video.mp4"),
        audio_path=str(prefix / "audio.wav") if info.has_audio else None,
        thumbnail_path=str(prefix / "thumbnail.jpg") if frames else None,
        frames_dir=str(prefix / "frames") if frames else None,
        frame_times=[round(i / FRAMES_PER_SECOND, 3) for i in range(len(frames))],
        peaks=peaks,
    )
    marker.write_text(result.to_json())
    return result
