"""Ingest throughput: ClueLab ingest against plain ffmpeg doing the same transcode, same files, same run.

ClueLab's ingest writes the browser-safe MP4 plus the 16 kHz WAV, frames, thumbnail and peaks and
records everything in the database. The reference is one plain `ffmpeg` per file making only the
H.264/AAC faststart MP4, run with the same parallelism. Usage:

    python bench/ingest.py [--clips 16] [--seconds 4] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def make_sources(folder: Path, clips: int, seconds: float) -> list[Path]:
    from annotation.ingest.media import ffmpeg_binary

    paths = []
    for i in range(clips):
        path = folder / f"src_{i:03d}.mp4"
        subprocess.run([ffmpeg_binary(), "-loglevel", "error", "-y",
                        "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=25:duration={seconds}",
                        "-f", "lavfi", "-i", f"sine=frequency={200 + 10 * i}:duration={seconds}",
                        "-c:v", "mpeg4", "-q:v", "4", "-c:a", "aac", "-shortest", str(path)], check=True)
        paths.append(path)
    return paths


def plain_ffmpeg(sources: list[Path], out: Path, workers: int) -> float:
    from annotation.ingest.media import ffmpeg_binary

    out.mkdir()

    def one(source: Path) -> None:
        subprocess.run([ffmpeg_binary(), "-loglevel", "error", "-y", "-i", str(source),
                        "-vf", "scale='min(1280,iw)':-2,format=yuv420p", "-c:v", "libx264", "-preset", "veryfast",
                        "-crf", "23", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart",
                        str(out / source.name)], check=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, sources))
    return time.perf_counter() - start


def cluelab_ingest(sources: list[Path], data_dir: Path, workers: int) -> float:
    os.environ["CLUELAB_DATA_DIR"] = str(data_dir)
    from sqlmodel import Session

    from annotation.ingest.importer import import_parsed, scan_folder
    from annotation.ingest.pipeline import ingest_clips
    from cluelab.bootstrap import init_database
    from cluelab.console import cli_actor
    from core.settings import get_settings
    from db.engine import get_engine
    from db.models import Dataset

    get_settings.cache_clear()
    init_database()
    start = time.perf_counter()
    with Session(get_engine(), expire_on_commit=False) as session:
        dataset = Dataset(name="bench")
        session.add(dataset)
        session.commit()
        import_parsed(session, dataset=dataset, parsed=scan_folder(sources[0].parent), user=cli_actor())
        session.commit()
    report = ingest_clips(actor=cli_actor(), dataset_id=dataset.id, workers=workers)
    elapsed = time.perf_counter() - start
    assert report.failed == 0, report.errors
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "src").mkdir()
        sources = make_sources(root / "src", args.clips, args.seconds)
        reference = plain_ffmpeg(sources, root / "plain", args.workers)
        ours = cluelab_ingest(sources, root / "data", args.workers)
    rate = lambda seconds: args.clips / seconds * 60  # noqa: E731
    print(f"\n{args.clips} clips of {args.seconds:.0f} s, 1280x720 mpeg4 + aac in; {args.workers} parallel workers\n")
    print(f"| {'what':<56} | {'seconds':>8} | {'clips/min':>9} |")
    print(f"|{'-' * 58}|{'-' * 10}|{'-' * 11}|")
    print(f"| {'plain ffmpeg: H.264/AAC faststart MP4 only':<56} | {reference:8.2f} | {rate(reference):9.1f} |")
    print(f"| {'ClueLab ingest: MP4 + WAV + frames + thumb + peaks + DB':<56} | {ours:8.2f} | {rate(ours):9.1f} |")
    print(f"\nClueLab / plain ffmpeg throughput: {reference / ours:.2f}")


if __name__ == "__main__":
    main()
