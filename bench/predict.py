"""Baseline pre-annotation speed per stage and end to end, on generated 4 s clips.

Each clip is a drawn face whose mouth moves with the loudness of espeak-ng speech
(English or Mandarin pinyin), encoded to H.264 MP4 with a 16 kHz mono WAV beside it,
as ingest produces. Run: PYTHONPATH=. python bench/predict.py [--clips 16] [--threads 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SENTENCES = [
    ("en", None, "I can't believe you did this to me again, I am so angry!"),
    ("zh", "cmn-latn-pinyin", "wo3 jin1 tian1 zhen1 de hen3 sheng1 qi4"),
    ("en", None, "What a wonderful surprise, thank you so much, I love it."),
    ("zh", "cmn-latn-pinyin", "ni3 wei4 shen2 me bu4 gao4 su4 wo3"),
    ("en", None, "I'm worried that we will not make it on time tonight."),
    ("zh", "cmn-latn-pinyin", "wo3 hen3 gao1 xing4 jian4 dao4 ni3"),
]
SECONDS = 4.0
FPS = 15


def _face(mouth: float, brow: float) -> np.ndarray:
    import cv2

    image = np.full((360, 640, 3), (190, 200, 210), np.uint8)
    cv2.ellipse(image, (320, 180), (80, 105), 0, 0, 360, (230, 200, 180), -1)
    for dx in (-30, 30):
        cv2.ellipse(image, (320 + dx, 155), (15, 8), 0, 0, 360, (255, 255, 255), -1)
        cv2.circle(image, (320 + dx, 155), 6, (20, 30, 40), -1)
    lift = int(6 * brow)
    cv2.line(image, (272, 135 - lift), (305, 128 - lift), (30, 40, 60), 4)
    cv2.line(image, (335, 128 - lift), (368, 135 - lift), (30, 40, 60), 4)
    cv2.ellipse(image, (320, 225), (32, 4 + int(16 * mouth)), 0, 0, 360, (170, 60, 60), -1)
    return image


def make_clip(folder: Path, index: int) -> tuple[Path, Path, str]:
    import av
    import soundfile as sf

    language, voice, text = SENTENCES[index % len(SENTENCES)]
    raw = folder / f"c{index}.raw.wav"
    wav = folder / f"c{index}.wav"
    video = folder / f"c{index}.mp4"
    subprocess.run(["espeak-ng", *(["-v", voice] if voice else []), "-w", str(raw), text], check=True)
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(raw), "-ar", "16000", "-ac", "1",
                    "-af", f"apad=whole_dur={SECONDS}", "-t", str(SECONDS), str(wav)], check=True)
    audio, rate = sf.read(str(wav), dtype="float32")
    hop = rate // FPS
    loudness = np.array([np.sqrt(np.mean(audio[i * hop:(i + 1) * hop] ** 2) + 1e-12) for i in range(int(SECONDS * FPS))])
    loudness = loudness / max(loudness.max(), 1e-6)
    silent = folder / f"c{index}.silent.mp4"
    with av.open(str(silent), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for level in loudness:
            frame = av.VideoFrame.from_ndarray(_face(float(level), float(index % 3 == 2)), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(silent), "-i", str(wav), "-c:v", "copy",
                    "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(video)], check=True)
    return video, wav, language


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--language", choices=["auto", "given"], default="given",
                        help="given: the dataset's language is known (as for MER2023/EMER); auto: detect per clip")
    args = parser.parse_args()

    from core.settings import Settings
    from model.base import ClipInput
    from model.registry import make_backend

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        made = time.perf_counter()
        clips = [make_clip(folder, i) for i in range(args.clips)]
        print(f"generated {len(clips)} clips of {SECONDS:.0f} s in {time.perf_counter() - made:.1f} s", file=sys.stderr)
        settings = Settings(CLUELAB_DATA_DIR=str(folder / "data"))
        backend = make_backend("baseline", settings=settings)
        backend.threads = args.threads

        def inputs(batch):
            return [ClipInput(name=v.stem, video_path=v, audio_path=w, duration=SECONDS,
                              language=lang if args.language == "given" else None) for v, w, lang in batch]

        # Warm-up: load every model once (not timed; a worker keeps them loaded).
        warm = time.perf_counter()
        backend.predict(inputs(clips[:2]))
        print(f"warm-up (model loading) {time.perf_counter() - warm:.1f} s", file=sys.stderr)
        backend.timings.clear()
        start = time.perf_counter()
        predictions = backend.predict(inputs(clips))
        total = time.perf_counter() - start
        backend.close()

    n = len(predictions)
    stages = ["decode", "face", "voice", "asr", "text", "scene", "fusion"]
    print(f"\nbaseline backend, {n} clips x {SECONDS:.0f} s, {args.threads} threads, language {args.language}")
    print(f"{'stage':<10}{'seconds':>10}{'ms/clip':>10}{'clips/s':>10}")
    for stage in stages:
        seconds = backend.timings.get(stage, 0.0)
        rate = n / seconds if seconds > 0 else float("inf")
        print(f"{stage:<10}{seconds:>10.2f}{1000 * seconds / n:>10.0f}{rate:>10.1f}")
    print(f"{'end to end':<10}{total:>10.2f}{1000 * total / n:>10.0f}{n / total:>10.2f}")
    sample = predictions[1]
    print(f"\nexample ({sample.clip_name}, {sample.language}): {sample.emotion}, uncertainty {sample.uncertainty:.2f}")
    for aspect, text in sample.clues.items():
        print(f"  {aspect.value}: {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
