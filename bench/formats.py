"""Benchmark: import and export of a generated MERR coarse JSON (default 30k clips) on SQLite.

Run: PYTHONPATH=$PWD python bench/formats.py [--clips 30000]
Prints rows/s and the peak resident memory of each phase, sampled from
/proc by a background thread (tracemalloc slowed the phases several-fold).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

EMOTIONS = ["neutral", "angry", "happy", "sad", "worried", "surprise", "fear", "contempt", "doubt"]
VISUAL = ["brow lowerer", "lip corner puller", "cheek raiser", "jaw drop", "upper lid raiser", "lip tightener"]
AUDIO = ["high pitch", "low pitch", "fast pace", "slow pace", "trembling voice", "loud voice"]


def generate(path: Path, clips: int) -> None:
    rng = random.Random(0)
    data = {}
    for i in range(clips):
        emotion = rng.choice(EMOTIONS)
        visual = rng.sample(VISUAL, 2)
        data[f"sample_{i:08d}"] = {
            "AU_list": [f"AU{rng.randint(1, 28):02d}" for _ in range(3)], "visual_prior_list": visual,
            "audio_prior_list": rng.sample(AUDIO, 2), "peak_index": rng.randint(0, 60),
            "peak_AU_list": [f"AU{rng.randint(1, 28):02d}"], "pseu_emotion": emotion,
            "caption": (f"The person shows {visual[0]} and {visual[1]}; 人物表情{emotion}，语气变化明显。"),
        }
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _rss_mib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRss:
    """Highest resident set size seen while the block runs (sampled every 5 ms)."""

    def __enter__(self) -> PeakRss:
        self.start = self.peak = _rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss_mib())

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mib())


def measure(label: str, rows: int, fn, results: list) -> object:  # noqa: ANN001
    with PeakRss() as rss:
        start = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - start
    results.append((label, rows, seconds, rows / seconds if seconds else float("inf"), rss.peak, rss.peak - rss.start))
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=30_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cluelab-bench-formats-"))
    os.environ["CLUELAB_DATA_DIR"] = str(work / "data")
    os.environ.pop("DATABASE_URL", None)

    from sqlmodel import Session

    from annotation.datasets import create_dataset
    from annotation.formats import export_rows, read
    from annotation.formats.export_service import gather_rows
    from annotation.formats.service import import_file
    from cluelab.bootstrap import init_database
    from db.engine import get_engine
    from db.queries.users import create_user

    source = work / "MERR_coarse_grained.json"
    generate(source, args.clips)
    init_database()
    with Session(get_engine(), expire_on_commit=False) as session:
        lead = create_user(session, username="bench", password="bench-password-1", roles=["lead"])
        dataset = create_dataset(session, actor=lead, name="bench")
        session.commit()

    results: list = []
    n = args.clips
    measure("parse (read JSON -> records)", n, lambda: read(source), results)

    def store() -> object:
        with Session(get_engine(), expire_on_commit=False) as session:
            report = import_file(session, dataset=dataset, path=source, media_dir=None, user=lead)
            session.commit()
        assert report.created == n and report.references_created == n, report.summary()
        return report

    measure("import (parse + store clips + references)", n, store, results)

    def again() -> object:
        with Session(get_engine(), expire_on_commit=False) as session:
            report = import_file(session, dataset=dataset, path=source, media_dir=None, user=lead)
            session.commit()
        assert report.created == 0 and report.references_unchanged == n
        return report

    measure("re-import (nothing changes)", n, again, results)

    def gather() -> list:
        with Session(get_engine(), expire_on_commit=False) as session:
            return gather_rows(session, dataset_id=dataset.id, source="reference:merr")

    rows = measure("export: gather rows from DB", n, gather, results)
    measure("export: write MERR coarse JSON", n,
            lambda: export_rows("merr-coarse", rows, work / "out.json", source="reference:merr"), results)
    measure("export: write MERR TXT + transcription", n,
            lambda: export_rows("merr-txt", rows, work / "out.txt", source="reference:merr"), results)

    table = Table(title=f"Formats benchmark: {n} MERR clips, SQLite ({source.stat().st_size / 2**20:.1f} MiB JSON)")
    for column in ("phase", "rows", "seconds", "rows/s", "peak RSS MiB", "RSS growth MiB"):
        table.add_column(column, justify="left" if column == "phase" else "right")
    for label, count, seconds, rate, peak, growth in results:
        table.add_row(label, f"{count}", f"{seconds:.2f}", f"{rate:,.0f}", f"{peak:.0f}", f"{growth:+.0f}")
    Console(width=130).print(table)


if __name__ == "__main__":
    main()
