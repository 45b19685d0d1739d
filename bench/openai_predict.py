"""The openai backend's throughput against a local OpenAI-compatible server that answers after a fixed delay.

The server (tests/model/fake_openai_server.py) runs in its own process, answers every request after
`--delay` seconds and counts how many it holds at once. In the same run this measures clips/s of
ClueLab's predict at K=1 and K=5 (with and without the verification request) against a plain
sequential loop over the same client, the ratio of the requests/s reached to the concurrency-bound
ideal (concurrency / delay), and the prompt-building time per clip (4 frames of 640x360 read from an
ingest-like frames folder, resized to 448 px and JPEG-encoded, plus the measured evidence).
Run: python bench/openai_predict.py [--delay 0.4] [--concurrency 32] [--clips 320] (about a minute)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

LABELS = ["neutral", "angry", "happy", "sad", "worried", "surprise"]
ROOT = Path(__file__).resolve().parents[1]  # the fake server and the media helpers live in tests/
sys.path.insert(0, str(ROOT))


def start_server(delay: float) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "tests.model.fake_openai_server", "--delay", str(delay)],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    line = process.stdout.readline().strip()
    if not line.startswith("PORT "):
        process.kill()
        raise RuntimeError(f"the fake server did not start: {line!r}")
    return process, f"http://127.0.0.1:{line.split()[1]}"


def server_call(root: str, path: str, method: str = "GET") -> dict:
    request = urllib.request.Request(root + path, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"{}")


def make_media(folder: Path, count: int) -> list[dict]:
    """Ingest-like clips: 8 frames of 640x360 (2 per second over 4 s) and a 16 kHz mono WAV each."""
    import cv2
    import numpy as np
    import soundfile as sf

    from tests.model.conftest import drawn_face

    out = []
    for n in range(count):
        frames = folder / f"clip{n}" / "frames"
        frames.mkdir(parents=True)
        for i in range(8):
            cv2.imwrite(str(frames / f"{i:04d}.jpg"),
                        cv2.cvtColor(drawn_face((i + n) % 8 / 8, size=(360, 640)), cv2.COLOR_RGB2BGR))
        wav = folder / f"clip{n}" / "audio.wav"
        t = np.arange(64000) / 16000
        sf.write(str(wav), (0.2 * np.sin(2 * np.pi * (150 + 10 * n) * t)).astype(np.float32), 16000, subtype="PCM_16")
        out.append({"frames_dir": frames, "audio_path": wav, "frame_times": [i * 0.5 for i in range(8)]})
    return out


def make_clips(count: int, media: list[dict]):
    from model.base import ClipInput
    from tests.model.conftest import synthetic_features

    rng = random.Random(0)
    return [ClipInput(name=f"clip-{i:05d}", clip_id=i, duration=4.0, language="en",
                      transcript="I really did not expect to see you here today!",
                      features=synthetic_features(("happy", "sad", "angry")[i % 3], rng), **media[i % len(media)])
            for i in range(count)]


def settings_for(root: str, data_dir: Path, *, concurrency: int, samples: int, verify: bool):
    from core.settings import Settings

    return Settings(CLUELAB_DATA_DIR=str(data_dir), OPENAI_BASE_URL=root + "/v1", OPENAI_API_KEY="sk-test",
                    CLUELAB_LLM_MODEL="test-model", CLUELAB_LLM_MAX_CONCURRENCY=concurrency,
                    CLUELAB_LLM_SAMPLES=samples, CLUELAB_LLM_VERIFY=verify)


def sequential(clips, settings) -> tuple[float, int]:
    """The plain loop: build one clip's prompt, send it, parse the answer, then the next clip."""
    from annotation.llm_client import ChatClient
    from model.llm.prompt import MAX_OUTPUT_TOKENS, annotation_format, clip_prompt, parse_annotation

    async def run() -> int:
        client = ChatClient.from_settings(settings)
        try:
            for clip in clips:
                prompt = clip_prompt(clip, labels=LABELS, language="en", transcript=clip.transcript,
                                     features=clip.features, frames=settings.llm_frames,
                                     image_size=settings.llm_image_size, audio=settings.llm_audio)
                reply = await client.chat(prompt.messages, response_format=annotation_format(LABELS),
                                          max_tokens=MAX_OUTPUT_TOKENS, clip=clip.name, step="annotate")
                parse_annotation(reply.contents[0], LABELS)
            return client.usage.requests
        finally:
            await client.close()

    started = time.perf_counter()
    requests = asyncio.run(run())
    return time.perf_counter() - started, requests


def cluelab(clips, settings) -> tuple[float, int, dict]:
    from model.registry import make_backend

    backend = make_backend("openai", settings=settings, label_set=LABELS)
    started = time.perf_counter()
    predictions = backend.predict(clips)
    seconds = time.perf_counter() - started
    assert len(predictions) == len(clips)
    return seconds, backend.usage.requests, backend.embedding


def prompt_build_ms(clips, settings) -> list[float]:
    """Prompt building alone, one clip after another on one thread."""
    from model.llm.prompt import clip_prompt

    times = []
    for clip in clips:
        started = time.perf_counter()
        clip_prompt(clip, labels=LABELS, language="en", transcript=clip.transcript, features=clip.features,
                    frames=settings.llm_frames, image_size=settings.llm_image_size, audio=settings.llm_audio)
        times.append(1000 * (time.perf_counter() - started))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.4, help="seconds the server takes per request")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--clips", type=int, default=320, help="clips per ClueLab run")
    parser.add_argument("--sequential-clips", type=int, default=16)
    args = parser.parse_args()

    process, root = start_server(args.delay)
    rows = []
    embedding: dict = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            media = make_media(folder / "media", 16)
            clips = make_clips(args.clips, media)
            data_dir = folder / "data"

            def measure(label: str, k: int, verify: bool, run, count: int) -> None:
                server_call(root, "/reset", "POST")
                settings = settings_for(root, data_dir, concurrency=args.concurrency, samples=k, verify=verify)
                seconds, requests, *extra = run(clips[:count], settings)
                stats = server_call(root, "/stats")
                rows.append((label, k, verify, count, requests, seconds, stats["max_in_flight"]))
                if extra and extra[0]["texts"]:
                    embedding.update(extra[0], clips=count)

            # Warm-up, not timed: imports, the embedding model (medoid of K samples), first connections.
            cluelab(clips[:8], settings_for(root, data_dir, concurrency=args.concurrency, samples=5, verify=True))
            measure("sequential loop", 1, False, sequential, args.sequential_clips)
            measure("ClueLab predict", 1, False, cluelab, args.clips)
            measure("ClueLab predict", 1, True, cluelab, args.clips)
            measure("ClueLab predict", 5, True, cluelab, args.clips)
            build = prompt_build_ms(clips[:64], settings_for(root, data_dir, concurrency=1, samples=1, verify=False))
    finally:
        process.kill()
        process.wait()

    ideal = args.concurrency / args.delay
    sequential_rate = rows[0][3] / rows[0][5]
    print(f"\nopenai backend against a local server answering after {1000 * args.delay:.0f} ms; "
          f"{args.concurrency} concurrent requests allowed; ideal {ideal:.0f} requests/s")
    header = (f"{'run':<17}{'K':>3}{'verify':>8}{'clips':>7}{'requests':>10}{'seconds':>9}{'clips/s':>9}"
              f"{'req/s':>8}{'in flight':>11}{'of ideal':>10}{'vs loop':>9}")
    print(header)
    print("-" * len(header))
    for label, k, verify, count, requests, seconds, in_flight in rows:
        rate = requests / seconds
        bound = 1 / args.delay if label.startswith("sequential") else ideal
        print(f"{label:<17}{k:>3}{'yes' if verify else 'no':>8}{count:>7}{requests:>10}{seconds:>9.2f}"
              f"{count / seconds:>9.2f}{rate:>8.1f}{in_flight:>11}{rate / bound:>10.2f}"
              f"{count / seconds / sequential_rate:>8.1f}x")
    print(f"\nprompt building per clip (4 frames 640x360 -> 448 px JPEG, evidence text), one thread: "
          f"median {statistics.median(build):.1f} ms, p95 {sorted(build)[int(0.95 * len(build))]:.1f} ms")
    if embedding:
        print(f"medoid of the K=5 samples: {embedding['texts']} clue texts embedded in {embedding['seconds']:.1f} s "
              f"({1000 * embedding['seconds'] / embedding['clips']:.0f} ms per clip, "
              f"{1000 * embedding['seconds'] / embedding['texts']:.1f} ms per text, batched across clips)")
    print("'of ideal': requests/s over the bound (concurrency / delay; 1 / delay for the loop). "
          "K samples go in one request (n=K); verification adds one text-only request per clip.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
