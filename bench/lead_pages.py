"""The lead's pages at scale: each page's server time at 100k clips with 3 submitted annotations each.

A fresh instance per database (SQLite, then PostgreSQL) gets 100k clips with
predictions (bench/annotate.py's bulk seeding), three annotators' submitted
annotations on every clip (emotions and ratings that mostly agree, clue
wordings drawn from a few variants) and a consensus on a tenth of the clips.
Each page then runs in Streamlit's AppTest as a signed-in lead: the first run
(cold: empty caches) and --warm more runs that do what a lead does there
(Adjudicate: "Next ▶"; Clips: the next page; the others: a plain rerun).
Reported per page: cold seconds, warm p50/p95/max, and exceptions.

    PYTHONPATH=$PWD python bench/lead_pages.py [--clips 100000] [--warm 10] [--backends sqlite,postgres]
        [--pages adjudicate,agreement,assignments,clips,evaluate]

Target: p95 < 1 s on every page after warm-up, on both databases.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import annotate as domain_bench  # noqa: E402 - bench/annotate.py, beside this file

from core.settings import get_settings  # noqa: E402
from core.vocabulary import ASPECTS  # noqa: E402
from db.engine import make_engine  # noqa: E402
from db.migrate import upgrade_to_head  # noqa: E402
from db.models import Annotation, Assignment, Clip, Consensus, User, utcnow  # noqa: E402

CHUNK = 20_000
PAGES = {
    "adjudicate": "pages/adjudicate.py",
    "agreement": "pages/agreement.py",
    "assignments": "pages/assignments.py",
    "clips": "pages/clips.py",
    "evaluate": "pages/evaluate_sources.py",
}
EMOTIONS = ["neutral", "angry", "happy", "sad", "worried", "surprise"]
WORDINGS = {
    "facial": ["brows raised, a wide smile", "raised brows and a smile", "a frown, lips pressed together",
               "eyes narrowed, jaw tight", "no clear facial movement"],
    "vocal": ["loud and fast, rising pitch", "soft voice, long pauses", "flat tone, slow rate",
              "pitch rises at the end", "trembling voice"],
    "verbal": ["says she is fine", "complains about the delay", "thanks him warmly", "asks why nobody told her",
               "describes the accident"],
    "scene": ["an office at night", "a crowded street", "a kitchen, two people", "a hospital corridor",
              "a car interior"],
}


def seed(engine: Engine, *, clips: int, annotators: int, consensus_share: float) -> tuple[int, int]:
    """The instance; returns (dataset id, the lead's user id)."""
    dataset_id, users = domain_bench.populate(engine, clips=clips, annotators=annotators)
    rng = random.Random(7)
    now = utcnow()
    with engine.begin() as connection:
        lead_id = connection.execute(sa.insert(User).values(
            username="lead", password_hash="x", roles=["lead", "researcher"], display_name="", active=True)
            .returning(User.id)).scalar_one()
        clip_ids = [r[0] for r in connection.execute(sa.select(Clip.id).where(Clip.dataset_id == dataset_id)
                                                     .order_by(Clip.id))]
        annotations, assignments = [], []
        for clip_id in clip_ids:
            truth = rng.randrange(len(EMOTIONS))
            base = {a.value: rng.randrange(len(WORDINGS[a.value])) for a in ASPECTS}
            for user in users:
                emotion = EMOTIONS[truth] if rng.random() < 0.8 else rng.choice(EMOTIONS)
                clues = {a: WORDINGS[a][base[a] if rng.random() < 0.7 else rng.randrange(len(WORDINGS[a]))]
                         for a in WORDINGS}
                annotations.append({
                    "clip_id": clip_id, "user_id": user.id, "clues": clues, "no_evidence": [], "emotion": emotion,
                    "rating": rng.randint(2, 4), "confidence": rng.randint(2, 5), "note": "", "status": "submitted",
                    "seconds_spent": rng.uniform(20, 90), "version": 1, "created_at": now, "updated_at": now,
                    "submitted_at": now})
                assignments.append({"clip_id": clip_id, "user_id": user.id, "state": "done", "leased_at": now})
            if len(annotations) >= CHUNK:
                connection.execute(sa.insert(Annotation), annotations)
                connection.execute(sa.insert(Assignment), assignments)
                annotations, assignments = [], []
        if annotations:
            connection.execute(sa.insert(Annotation), annotations)
            connection.execute(sa.insert(Assignment), assignments)
        decided = clip_ids[: int(len(clip_ids) * consensus_share)]
        sources: dict[int, list[int]] = {}
        for clip_id, annotation_id in connection.execute(  # the first clips by id
                sa.select(Annotation.clip_id, Annotation.id).where(Annotation.clip_id <= max(decided, default=0))):
            sources.setdefault(clip_id, []).append(annotation_id)
        rows = [{"clip_id": clip_id, "revision": 1, "is_current": True, "emotion": rng.choice(EMOTIONS),
                 "posterior": {}, "clues": {a: WORDINGS[a][0] for a in WORDINGS}, "rating_median": 3.0,
                 "rating_spread": 1.0, "method": "majority", "source_annotation_ids": sorted(sources.get(clip_id, [])),
                 "auto_accepted": False, "accepted_by_id": lead_id, "accepted_at": now, "note": "", "version": 1}
                for clip_id in decided]
        for start in range(0, len(rows), CHUNK):
            connection.execute(sa.insert(Consensus), rows[start:start + CHUNK])
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("ANALYZE"))
    else:
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.exec_driver_sql("ANALYZE")
    return dataset_id, lead_id


def interact(name: str, at) -> None:  # noqa: ANN001 - an AppTest
    """What a lead does on the page between two reads of it."""
    if name == "adjudicate":
        buttons = [b for b in at.button if b.key == "adjudicate.next"]
        if buttons:
            buttons[0].click()
    elif name == "clips":
        following = [b for b in at.button if b.label.startswith("Next")]
        if following:
            following[0].click()


def time_page(name: str, lead_id: int, warm: int, timeout: float) -> dict:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / PAGES[name]), default_timeout=timeout)
    at.session_state["user_id"] = lead_id
    started = time.perf_counter()
    try:
        at.run()
    except RuntimeError as error:  # AppTest's timeout
        return {"cold": time.perf_counter() - started, "warm": [], "errors": [f"first run: {error}"]}
    cold = time.perf_counter() - started
    errors = [e.value for e in at.exception]
    times = []
    for _ in range(warm):
        interact(name, at)
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
        errors += [e.value for e in at.exception]
    return {"cold": cold, "warm": times, "errors": errors}


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, dict]:
    results: dict[str, dict] = {}
    admin = None
    name = f"cluelab_lead_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as folder:
        os.environ["CLUELAB_DATA_DIR"] = folder
        if backend == "postgres":
            admin = sa.create_engine(args.postgres_admin, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            url = args.postgres_admin.rsplit("/", 1)[0] + f"/{name}"
            os.environ["DATABASE_URL"] = url
        else:
            url = f"sqlite:///{Path(folder) / 'cluelab.db'}"
            os.environ.pop("DATABASE_URL", None)
        get_settings.cache_clear()
        engine = make_engine(url)
        try:
            upgrade_to_head(engine)
            started = time.perf_counter()
            _, lead_id = seed(engine, clips=args.clips, annotators=args.annotations, consensus_share=0.1)
            print(f"[{backend}] {args.clips} clips × {args.annotations} annotations ready in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
            for page in args.pages.split(","):
                results[page] = time_page(page, lead_id, args.warm, args.timeout)
                r = results[page]
                print(f"[{backend}] {page}: cold {r['cold']:.2f} s, warm max {max(r['warm'], default=0):.2f} s",
                      flush=True)
        finally:
            engine.dispose()
            from db.engine import _engine_for
            _engine_for.cache_clear()
            if admin is not None:
                with admin.connect() as connection:
                    connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100_000)
    parser.add_argument("--annotations", type=int, default=3, help="submitted annotations per clip")
    parser.add_argument("--warm", type=int, default=10, help="runs per page after the first")
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds a page run may take")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres-admin", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    results = {backend: run_backend(backend.strip(), args) for backend in args.backends.split(",")}
    print(f"\nLead pages in AppTest: {args.clips} clips × {args.annotations} submitted annotations, consensus on "
          f"10%; {args.warm} warm runs per page; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    header = f"{'backend':<10}{'page':<13}{'cold s':>8}{'warm p50 s':>12}{'p95 s':>8}{'max s':>8}{'errors':>8}"
    print(header)
    print("-" * len(header))
    for backend, pages in results.items():
        for page, r in pages.items():
            warm = r["warm"] or [float("nan")]
            print(f"{backend:<10}{page:<13}{r['cold']:>8.2f}{statistics.median(warm):>12.2f}"
                  f"{domain_bench.percentile(warm, 0.95):>8.2f}{max(warm):>8.2f}{len(r['errors']):>8}")
            for error in r["errors"][:2]:
                print(f"    {error[:200]}")
    print("Target: p95 < 1 s per page after warm-up (Label Studio 1.23.2's 'next task' alone: 6.0 s p95 on "
          "PostgreSQL at 100k tasks).")


if __name__ == "__main__":
    main()
