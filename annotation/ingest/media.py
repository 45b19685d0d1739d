"""Media processing for one file: probe, validate, transcode, derive.

One ffmpeg run per clip writes every derived file at once: a browser-safe MP4
(H.264 yuv420p + AAC, `+faststart`), a 16 kHz mono WAV, sampled JPEG frames and
a thumbnail. Waveform peaks come from the WAV. Functions here take paths and
return plain data, so they run in worker processes and test without a database.

Everything is written into a fresh temporary folder beside the target and
renamed into place in one step, so two runs never share a half-written folder
and a crash leaves nothing that looks finished. A fault of the server (disk
full, read-only or unwritable folder) raises `ServerFault`, never `MediaError`:
the file is not to blame and the clip can be retried.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".ts"}
AUDIO_SUFFIXES = {".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".opus"}
MEDIA_SUFFIXES = VIDEO_SUFFIXES | AUDIO_SUFFIXES

FRAMES_PER_SECOND = 2.0  # sampled frames for the model and the clip browser (fewer for long clips: see Limits)
FRAME_WIDTH = 640
MAX_VIDEO_WIDTH = 1280
PEAKS = 800  # waveform bins
DONE_MARKER = "media.json"


class MediaError(ValueError):
    """A file that cannot become a clip; the message says why, for the person who imported it."""


# errno -> what a person reads. These are faults of the server, not of the file.
SERVER_FAULTS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
}


class ServerFault(OSError):
    """The server cannot process media now (disk full, read-only or unwritable folder): the clip stays pending."""

    def describe(self) -> str:
        what = SERVER_FAULTS.get(self.errno or 0, self.strerror or "the server cannot write media")
        return f"{what} ({self.filename})" if self.filename else what

    @classmethod
    def from_os_error(cls, error: OSError) -> ServerFault | None:
        if isinstance(error, ServerFault):
            return error
        if error.errno in SERVER_FAULTS:
            return cls(error.errno, error.strerror or os.strerror(error.errno), error.filename)
        return None


@dataclass(frozen=True)
class Limits:
    """What a clip may cost: bytes on disk, duration, and sampled frames (long clips are sampled more sparsely)."""

    max_bytes: int
    max_duration: float | None = None
    max_frames: int | None = None

    def frame_rate(self, duration: float) -> float:
        if not self.max_frames or duration <= 0:
            return FRAMES_PER_SECOND
        return min(FRAMES_PER_SECOND, self.max_frames / duration)


def die_with_parent() -> None:
    """Have Linux kill this process when the thread that started it ends (a killed worker's pool and ffmpeg
    runs go with it); elsewhere nothing. Safe between fork and exec: one system call."""
    if sys.platform.startswith("linux"):
        _prctl()(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@lru_cache(maxsize=1)
def _prctl():  # noqa: ANN202 — resolved once, before any fork, so the child only makes the call
    return ctypes.CDLL(None, use_errno=True).prctl


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


def _ffmpeg_args(source: Path, out: Path, info: Probe, *, frame_rate: float = FRAMES_PER_SECOND,
                 max_frames: int | None = None, max_duration: float | None = None) -> list[str]:
    args = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    if max_duration:  # a container may understate its length: never decode past the limit
        args += ["-t", f"{max_duration + 1:.3f}"]
    args += ["-i", str(source)]
    if info.has_video:
        scale = f"scale='min({MAX_VIDEO_WIDTH},iw)':-2:flags=bicubic,format=yuv420p"
        args += ["-map", "0:v:0"] + (["-map", "0:a:0"] if info.has_audio else [])
        args += ["-vf", scale, "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-profile:v", "high"]
        if info.has_audio:
            args += ["-c:a", "aac", "-b:a", "128k", "-ac", "2"]
        args += ["-movflags", "+faststart", str(out / "video.mp4")]
        frames = out / "frames"
        frames.mkdir(exist_ok=True)
        args += ["-map", "0:v:0", "-vf", f"fps={frame_rate:.6f},scale='min({FRAME_WIDTH},iw)':-2", "-q:v", "3"]
        args += (["-frames:v", str(max_frames)] if max_frames else []) + [str(frames / "%05d.jpg")]
    else:
        args += ["-map", "0:a:0", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(out / "video.mp4")]
    if info.has_audio:
        args += ["-map", "0:a:0", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(out / "audio.wav")]
    return args


def _first_frame(source: Path, frames: Path) -> list[Path]:
    """The first frame alone: a video shorter than one sampling step (a single frame) still has a picture."""
    run = _run_ffmpeg([ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(source),
                       "-map", "0:v:0", "-frames:v", "1", "-vf", f"scale='min({FRAME_WIDTH},iw)':-2", "-q:v", "3",
                       str(frames / "00001.jpg")])
    _raise_server_fault(run.stderr, source=source, out=frames)
    return sorted(frames.glob("*.jpg"))


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
    if not cv2.imwrite(str(path), thumb, [cv2.IMWRITE_JPEG_QUALITY, 85]):
        _raise_if_disk_full(out)
        return None
    return path


def _run_ffmpeg(args: list[str]) -> subprocess.CompletedProcess:
    # ffmpeg dies with the process that runs it, so a killed worker leaves no encoder behind. prctl is looked
    # up here, before the fork: between fork and exec the child only makes the call.
    preexec = None
    if sys.platform.startswith("linux"):
        _prctl()
        preexec = die_with_parent
    return subprocess.run(args, capture_output=True, text=True, errors="replace", preexec_fn=preexec)


def _raise_if_disk_full(folder: Path) -> None:
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < 1 << 20:
        raise ServerFault(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder))


def _raise_server_fault(stderr: str, *, source: Path, out: Path) -> None:
    """ffmpeg reports a full disk or an unwritable folder only in words: find them, and say whose fault it is."""
    for line in stderr.splitlines():
        for code in SERVER_FAULTS:
            if os.strerror(code) in line:
                where = source if str(source) in line else out
                raise ServerFault(code, os.strerror(code), str(where))
    if stderr.strip():
        _raise_if_disk_full(out)


def _duration_text(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.0f} s"


def check_duration(info: Probe, *, max_duration: float | None) -> None:
    if max_duration and info.duration > max_duration:
        raise MediaError(f"the clip is {_duration_text(info.duration)} long, over the {_duration_text(max_duration)} "
                         "limit (setting max_duration_seconds)")


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


def process_file(source: Path, out: Path, *, max_bytes: int, content_hash: str | None = None,
                 limits: Limits | None = None, tag: str = "") -> MediaResult:
    """Derive every media file for `source` into folder `out`; idempotent and resumable.

    A folder that already holds a finished result (its marker file) is reused. Work happens in a new
    temporary folder `<out>.partial-<tag>-…` beside `out`, renamed into place when complete.
    Raises MediaError with a reader-friendly reason for bad input, ServerFault when the server is at fault.
    """
    limits = limits or Limits(max_bytes=max_bytes)
    marker = out / DONE_MARKER
    if marker.exists():
        return MediaResult.from_json(marker.read_text())
    try:
        size = validate_file(source, max_bytes=max_bytes)
        info = probe(source)
        check_duration(info, max_duration=limits.max_duration)
        digest = content_hash or file_hash(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f"{out.name}.partial-{tag}-" if tag else f"{out.name}.partial-",
                                        dir=out.parent))
        try:
            return _derive(source, out, partial, info=info, size=size, digest=digest, limits=limits)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    except OSError as error:
        fault = ServerFault.from_os_error(error)
        if fault is None:
            raise
        raise fault from None


def _derive(source: Path, out: Path, partial: Path, *, info: Probe, size: int, digest: str,
            limits: Limits) -> MediaResult:
    frame_rate = limits.frame_rate(info.duration)
    run = _run_ffmpeg(_ffmpeg_args(source, partial, info, frame_rate=frame_rate, max_frames=limits.max_frames,
                                   max_duration=limits.max_duration))
    if run.returncode != 0:
        _raise_server_fault(run.stderr, source=source, out=partial)
        raise MediaError(f"could not decode the file ({_short(run.stderr.strip().splitlines()[-1] if run.stderr.strip() else 'ffmpeg failed')})")
    try:
        produced = probe(partial / "video.mp4")
    except MediaError as error:
        raise MediaError(f"decoding produced no playable output: {error}") from None
    if info.duration > 1.0 and produced.duration < 0.9 * info.duration:
        raise MediaError(f"the file is truncated or damaged: only {produced.duration:.1f} s of "
                         f"{info.duration:.1f} s could be decoded")
    if not info.duration:
        info.duration = produced.duration
    frames = sorted((partial / "frames").glob("*.jpg")) if info.has_video else []
    if info.has_video and not frames:
        frames = _first_frame(source, partial / "frames")
    if info.has_video and not frames:
        raise MediaError("the video stream has no decodable frames")
    _thumbnail(frames, partial)
    wav = partial / "audio.wav"
    peaks = waveform_peaks(wav) if wav.exists() else []
    prefix = Path(out.parent.name) / out.name
    result = MediaResult(
        content_hash=digest,
        size_bytes=size,
        probe=info,
        video_path=str(prefix / "video.mp4"),
        audio_path=str(prefix / "audio.wav") if info.has_audio else None,
        thumbnail_path=str(prefix / "thumbnail.jpg") if (partial / "thumbnail.jpg").exists() else None,
        frames_dir=str(prefix / "frames") if frames else None,
        frame_times=[round(i / frame_rate, 3) for i in range(len(frames))],
        peaks=peaks,
    )
    # The marker goes in before the rename: a folder in place is a finished folder.
    (partial / DONE_MARKER).write_text(result.to_json())
    return _publish(partial, out) or result


def _publish(partial: Path, out: Path) -> MediaResult | None:
    """Rename the finished folder into place in one step. When another run finished the same content first,
    keep theirs (identical) and return it; an unfinished folder left by an older version is replaced."""
    for _ in range(3):
        try:
            os.rename(partial, out)  # replaces only a missing or empty folder
            return None
        except OSError as error:
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
        marker = out / DONE_MARKER
        if marker.exists():
            return MediaResult.from_json(marker.read_text())
        aside = Path(tempfile.mkdtemp(prefix=f"{out.name}.stale-", dir=out.parent))
        with contextlib.suppress(FileNotFoundError):  # someone else moved it meanwhile
            os.rename(out, aside / out.name)
        shutil.rmtree(aside, ignore_errors=True)
    raise OSError(errno.EEXIST, f"could not move the finished media into {out}")
