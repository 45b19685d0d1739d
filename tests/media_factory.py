"""Make real media files for tests with ffmpeg (no binaries in git)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from annotation.ingest.media import ffmpeg_binary


def make_video(path: Path, *, seconds: float = 2.0, size: str = "320x240", tone_hz: int = 440,
               faststart: bool = False, audio: bool = True, video: bool = True) -> Path:
    """A test-pattern video with a sine tone (or only one of the two)."""
    command = [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y"]
    if video:
        command += ["-f", "lavfi", "-i", f"testsrc=size={size}:rate=25:duration={seconds}"]
    if audio:
        command += ["-f", "lavfi", "-i", f"sine=frequency={tone_hz}:sample_rate=44100:duration={seconds}"]
    if video:
        # mpeg4 in an MP4, so ingest really has to transcode to H.264.
        command += ["-c:v", "mpeg4", "-q:v", "5"]
    if audio:
        command += ["-c:a", "aac" if path.suffix != ".wav" else "pcm_s16le"]
    if faststart:
        command += ["-movflags", "+faststart"]
    command += ["-shortest", str(path)]
    subprocess.run(command, check=True)
    return path


def truncate(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path
