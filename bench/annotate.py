"""Annotate-page server time at 100k clips with 20 concurrent annotators, on SQLite and PostgreSQL.

Each simulated annotator loops: load the page's data (next clip with its lease,
the active model's prediction, the draft, media metadata), save a draft, then
submit. Timings are wall-clock per call inside the thread, so they include
waiting for locks and for the interpreter, as a server would.

    PYTHONPATH=$PWD python bench/annotate.py [--clips 100000] [--annotators 20] [--per-annotator 30]
        [--think-ms 1000] [--prefilled 0] [--backends sqlite,postgres]
        [--postgres-admin postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Targets: p95 load < 300 ms, p95 submit < 50 ms, no clip past its overlap, no errors.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from annotation.labelling.annotate import AnnotationInput, load_task, save_draft, submit
from core.vocabulary import ASPECTS
from db.engine import make_engine
from db.migrate import upgrade_to_head
from db.models import (
    Annotation,
    Assignment,
    Clip,
    Dataset,
    ModelVersion,
    Prediction,
    User,
)

CHUNK = 5000


def populate(engine: Engine, *, clips: int, annotators: int, overlap: int = 3) -> tuple[int, list[User]]:
    """One dataset of ready clips with peaks, word timings and predictions; `annotators` users."""
    with Session(engine, expire_on_commit=False) as session:
        dataset = Dataset(name="bench", overlap=overlap)
        users = [User(username=f"annotator{i:02d}", password_hash="x", roles=["annotator"]) for i in range(annotators)]
        session.add(dataset)
        session.add_all(users)
        session.flush()
        version = ModelVersion(backend="baseline", name="bench", dataset_id=dataset.id, is_active=True)
        session.add(version)
        session.commit()
        dataset_id, version_id = dataset.id, version.id
    peaks = [round(abs(((i * 37) % 100) / 100.0), 2) for i in range(200)]
    words = [{"word": f"word{i}", "start": i * 0.4, "end": i * 0.4 + 0.3} for i in range(25)]
    clues = {a.value: f"The {a.value} evidence the model found, in a sentence of ordinary length." for a in ASPECTS}
    with engine.begin() as connection:
        for start in range(0, clips, CHUNK):
            rows = [
                {"dataset_id": dataset_id, "name": f"clip{i:06d}", "status": "ready",
                 "video_path": f"media/clip{i:06d}.mp4",
                 "audio_path": f"media/clip{i:06d}.wav", "peaks": peaks, "duration": 10.0, "fps": 25.0, "width": 640,
                 "height": 360, "has_video": True, "has_audio": True, "transcript": " ".join(w["word"] for w in words),
                 "transcript_words": words}
                for i in range(start, min(clips, start + CHUNK))
            ]
            connection.execute(sa.insert(Clip), rows)
        ids = [r[0] for r in connection.execute(sa.select(Clip.id).where(Clip.dataset_id == dataset_id))]
        for start in range(0, len(ids), CHUNK):
            connection.execute(sa.insert(Prediction), [
                {"clip_id": clip_id, "model_version_id": version_id, "clues": clues, "emotion": "happy",
                 "distribution": {"happy": 0.5, "sad": 0.3, "neutral": 0.2}, "spans": [],
                 "uncertainty": ((clip_id * 7919) % 10007) / 10007.0}
                for clip_id in ids[start:start + CHUNK]
            ])
    if engine.dialect.name == "sqlite":  # fold the bulk load's WAL into the database before timing
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("ANALYZE"))
    return dataset_id, users


def prefill(engine: Engine, *, dataset_id: int, clips: int, overlap: int = 3) -> None:
    """Fill the `clips` least certain clips with submitted slots by extra annotators (late in a project)."""
    if clips <= 0:
        return
    with engine.begin() as connection:
        connection.execute(sa.insert(User), [
            {"username": f"earlier{i}", "password_hash": "x", "roles": ["annotator"], "display_name": "",
             "active": True} for i in range(overlap)])
        earlier = [r[0] for r in connection.execute(sa.select(User.id).where(User.username.like("earlier%")))]
        top = [r[0] for r in connection.execute(
            sa.select(Prediction.clip_id).join(Clip, Clip.id == Prediction.clip_id)
            .where(Clip.dataset_id == dataset_id)
            .order_by(Prediction.uncertainty.desc(), Prediction.clip_id.desc()).limit(clips))]
        rows = [{"clip_id": clip_id, "user_id": user_id, "state": "done"} for clip_id in top for user_id in earlier]
        for start in range(0, len(rows), 20_000):
            connection.execute(sa.insert(Assignment), rows[start:start + 20_000])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))] if ordered else float("nan")


def run(engine: Engine, *, dataset_id: int, users: list[User], per_annotator: int, think_ms: float = 0.0) -> dict:
    load_ms: list[float] = []
    draft_ms: list[float] = []
    submit_ms: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    gate = threading.Barrier(len(users))

    def annotator(user: User) -> None:
        gate.wait()
        for n in range(per_annotator):
            try:
                with Session(engine, expire_on_commit=False) as session:
                    t0 = time.perf_counter()
                    task = load_task(session, user=user, dataset_id=dataset_id)
                    if task is not None:  # the page reads these to render
                        _ = (task.clip.peaks, task.clip.transcript_words, task.clip.video_path,
                             task.prediction.clues if task.prediction else None)
                    t1 = time.perf_counter()
                    if task is None:
                        return
                    values = AnnotationInput(clues={a.value: f"{a.value} clue by {user.username}" for a in ASPECTS},
                                             emotion="happy", rating=1 + n % 4, confidence=3)
                    save_draft(session, user=user, clip_id=task.clip.id, values=values, seconds_spent=5.0)
                    t2 = time.perf_counter()
                    submit(session, user=user, clip_id=task.clip.id, values=values, seconds_spent=6.0)
                    t3 = time.perf_counter()
                if think_ms:  # the annotator looks at the clip between requests
                    time.sleep(think_ms / 1000)
                with lock:
                    load_ms.append((t1 - t0) * 1000)
                    draft_ms.append((t2 - t1) * 1000)
                    submit_ms.append((t3 - t2) * 1000)
            except Exception as error:  # noqa: BLE001 - counted and reported
                with lock:
                    errors.append(f"{type(error).__name__}: {error}"[:200])

    threads = [threading.Thread(target=annotator, args=(u,)) for u in users]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    with Session(engine) as session:
        per_clip = Counter(session.exec(select(Annotation.clip_id).where(Annotation.status == "submitted")).all())
        overlap = session.get(Dataset, dataset_id).overlap
    return {
        "load": load_ms, "draft": draft_ms, "submit": submit_ms, "errors": errors, "elapsed": elapsed,
        "over_overlap": sum(1 for c in per_clip.values() if c > overlap), "submitted": sum(per_clip.values()),
    }


def sqlite_engine(folder: Path) -> Engine:
    return make_engine(f"sqlite:///{folder / 'bench.db'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100_000)
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--per-annotator", type=int, default=30)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--think-ms", type=float, default=1000.0,
                        help="pause per clip in the paced run (real annotators take 30 s or more per clip)")
    parser.add_argument("--prefilled", type=int, default=0,
                        help="clips already filled before timing (e.g. 50000: half-way through the project)")
    parser.add_argument("--postgres-admin", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    # Three runs per backend: one annotator alone (server time without queueing), all
    # annotators back to back (a stress test: every thread always has a request in
    # flight), and all annotators pausing --think-ms per clip.
    runs = [("solo", 1, 0.0), ("burst", args.annotators, 0.0), ("paced", args.annotators, args.think_ms)]
    results: dict[tuple[str, str], dict] = {}
    for backend in args.backends.split(","):
        admin = None
        name = f"cluelab_bench_{uuid.uuid4().hex[:8]}"
        with tempfile.TemporaryDirectory() as folder:
            if backend == "postgres":
                admin = sa.create_engine(args.postgres_admin, isolation_level="AUTOCOMMIT")
                with admin.connect() as connection:
                    connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
                engine = make_engine(args.postgres_admin.rsplit("/", 1)[0] + f"/{name}")
            else:
                engine = sqlite_engine(Path(folder))
            try:
                upgrade_to_head(engine)
                t0 = time.perf_counter()
                dataset_id, users = populate(engine, clips=args.clips, annotators=args.annotators + 1)
                prefill(engine, dataset_id=dataset_id, clips=args.prefilled)
                print(f"[{backend}] {args.clips} clips ready in {time.perf_counter() - t0:.1f} s", flush=True)
                results[(backend, "solo")] = run(engine, dataset_id=dataset_id, users=users[-1:],
                                                 per_annotator=args.per_annotator)
                for label, count, think in runs[1:]:
                    results[(backend, label)] = run(engine, dataset_id=dataset_id, users=users[:count],
                                                    per_annotator=args.per_annotator, think_ms=think)
                    print(f"[{backend}] {label} done", flush=True)
            finally:
                engine.dispose()
                if admin is not None:
                    with admin.connect() as connection:
                        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    admin.dispose()

    print(f"\n{args.clips} clips ({args.prefilled} already filled), overlap 3, {args.per_annotator} clips per "
          f"annotator; solo = 1 annotator, "
          f"burst = {args.annotators} back to back, paced = {args.annotators} with {args.think_ms:.0f} ms per clip; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    header = f"{'backend':<10}{'run':<7}{'op':<8}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
    print(header)
    print("-" * len(header))
    for (backend, label), r in results.items():
        for op in ("load", "draft", "submit"):
            values = r[op]
            print(f"{backend:<10}{label:<7}{op:<8}{len(values):>6}"
                  f"{statistics.median(values) if values else float('nan'):>9.1f}"
                  f"{percentile(values, 0.95):>9.1f}{max(values) if values else float('nan'):>9.1f}")
    print()
    for (backend, label), r in results.items():
        print(f"{backend:<10}{label:<7}submitted {r['submitted']} in {r['elapsed']:.1f} s · errors {len(r['errors'])} · "
              f"clips past overlap {r['over_overlap']}")
        for error in r["errors"][:5]:
            print(f"    {error}")
    print("targets: p95 load < 300 ms, p95 submit < 50 ms")


if __name__ == "__main__":
    main()
