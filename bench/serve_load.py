"""Speed as an annotator feels it, through the real server: `cluelab serve` driven over its websocket.

For each database (SQLite, then PostgreSQL) a fresh instance gets 100k clips
(bench/annotate.py's bulk seeding), `cluelab serve` starts as a subprocess, and
simulated annotators sign in and work the Annotate page over Streamlit's own
protocol (bench/streamlit_client.py): per clip they edit two clue boxes, pick an
emotion, a rating and a confidence (each change is a rerun that autosaves the
draft) and press Submit, spreading those steps evenly over the pace. Settings:
1, 5 and 20 annotators at a clip per --pace seconds, and 20 back to back (burst).

Reported per setting: click→next (Submit sent → the next clip's name arrives in
a delta), autosave (a change sent → its rerun finished), the first page load,
server CPU per rerun (psutil over the server's processes), errors (exceptions
or error alerts on the page, timeouts, refused sign-ins) and clips past their
overlap. Then bench/annotate.py's domain calls run in threads on the same
database with the same number of annotators, so Streamlit's share is visible.

    PYTHONPATH=$PWD python bench/serve_load.py [--clips 100000] [--duration 60] [--pace 10]
        [--settings 1,5,20,burst] [--backends sqlite,postgres] [--processes 1] [--worker]

Target: p95 click→next < 300 ms with 20 paced annotators on both databases, 0 errors, 0 clips past overlap.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlmodel import Session, select

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import annotate as domain_bench  # noqa: E402 - bench/annotate.py, beside this file
from streamlit_client import AppClient, ServerError, Widget  # noqa: E402

from core.vocabulary import ASPECTS  # noqa: E402
from db.engine import make_engine  # noqa: E402
from db.migrate import upgrade_to_head  # noqa: E402
from db.models import Annotation, Dataset, User  # noqa: E402

PASSWORD = "bench-password"
CLIP_NAME = re.compile(r"^clip\d{6}$")
# Measured on this machine kind at 100k tasks, 20 concurrent annotators (docs: DESIGN.md, Targets).
REFERENCE = "Label Studio 1.23.2 'next task' p95: 6.0 s PostgreSQL, 20 s SQLite; Potato 2.12.1: 3.8 s, 40% errors"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    return domain_bench.percentile(values, share)


# --- the instance ---------------------------------------------------------------------------


@dataclass
class Instance:
    backend: str
    url: str
    data_dir: Path
    dataset_id: int
    usernames: list[str]
    domain_users: list[User]


def seed(backend: str, url: str, data_dir: Path, *, clips: int, annotators: int) -> Instance:
    engine = make_engine(url)
    try:
        upgrade_to_head(engine)
        dataset_id, users = domain_bench.populate(engine, clips=clips, annotators=2 * annotators)
        hashed = PasswordHasher().hash(PASSWORD)
        with engine.begin() as connection:
            connection.execute(sa.update(User).values(password_hash=hashed))
    finally:
        engine.dispose()
    return Instance(backend=backend, url=url, data_dir=data_dir, dataset_id=dataset_id,
                    usernames=[u.username for u in users[:annotators]], domain_users=users[annotators:])


class Server:
    """`cluelab serve` in a subprocess, on a free port, against the instance."""

    def __init__(self, instance: Instance, *, processes: int, worker: bool):
        self.port = free_port()
        env = {**os.environ, "CLUELAB_DATA_DIR": str(instance.data_dir), "PYTHONPATH": str(ROOT)}
        env.pop("REDIS_URL", None)
        if instance.backend == "postgres":
            env["DATABASE_URL"] = instance.url
        else:
            env.pop("DATABASE_URL", None)
        command = [sys.executable, "-m", "cluelab.cli", "serve", "--port", str(self.port), "--address", "127.0.0.1",
                   "--worker" if worker else "--no-worker"]
        if processes > 1:
            command += ["--processes", str(processes)]
        self.log = open(instance.data_dir / f"serve-{self.port}.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"cluelab serve exited with {self.process.returncode}; see {self.log.name}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
            time.sleep(0.5)
        raise RuntimeError(f"cluelab serve not ready in {timeout:.0f} s; see {self.log.name}")

    def cpu_seconds(self) -> float:
        """User + system CPU of the server's processes so far (the serve wrapper, Streamlit, proxy, worker)."""
        total = 0.0
        try:
            parent = psutil.Process(self.process.pid)
            for process in [parent, *parent.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    times = process.cpu_times()
                    total += times.user + times.system
        except psutil.Error:
            pass
        return total

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                for child in psutil.Process(self.process.pid).children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        child.kill()
                self.process.kill()
        self.log.close()


# --- one simulated annotator --------------------------------------------------------------------


@dataclass
class Tally:
    click_next: list[float] = field(default_factory=list)  # ms
    submit_run: list[float] = field(default_factory=list)  # ms, Submit sent → its rerun finished
    autosave: list[float] = field(default_factory=list)  # ms
    first_load: list[float] = field(default_factory=list)  # ms, Annotate opened → page finished
    reruns: int = 0
    submitted: int = 0
    errors: list[str] = field(default_factory=list)
    cpu_by_step: dict[str, list[float]] = field(default_factory=dict)  # solo only: server CPU ms per rerun


def clip_name_in(forward) -> str | None:  # noqa: ANN001 - a ForwardMsg
    if forward.WhichOneof("type") != "delta" or forward.delta.WhichOneof("type") != "new_element":
        return None
    element = forward.delta.new_element
    if element.WhichOneof("type") == "heading" and CLIP_NAME.match(element.heading.body):
        return element.heading.body
    return None


def current_clip(client: AppClient, run) -> str | None:  # noqa: ANN001
    return next((h for h in run.headings if CLIP_NAME.match(h)), None)


class Annotator:
    def __init__(self, name: str, server: Server, tally: Tally, *, pace: float, until: float, seed: int,
                 measure_cpu: bool):
        self.name = name
        self.server = server
        self.tally = tally
        self.pace = pace
        self.until = until
        self.random = random.Random(seed)
        self.measure_cpu = measure_cpu
        self.client = AppClient(server.url)
        self.clip: str | None = None

    async def step(self, kind: str, action) -> object:  # noqa: ANN001 - a coroutine factory
        cpu = self.server.cpu_seconds() if self.measure_cpu else 0.0
        run = await action()
        self.tally.reruns += 1
        if self.measure_cpu:
            self.tally.cpu_by_step.setdefault(kind, []).append((self.server.cpu_seconds() - cpu) * 1000)
        if run.errors:
            self.tally.errors.extend(f"{self.name} {kind}: {e}" for e in run.errors)
        return run

    async def work(self) -> None:
        try:
            await self.client.open()
            await self.client.sign_in(self.name, PASSWORD)
            run = await self.step("open page", lambda: self.client.run(page="annotate"))
            self.tally.first_load.append(run.seconds * 1000)
            self.clip = current_clip(self.client, run)
            # Spread the first clips over one pace so paced annotators do not move in lockstep.
            if self.pace:
                await asyncio.sleep(self.random.uniform(0, self.pace))
            while time.perf_counter() < self.until and self.clip is not None:
                await self.one_clip()
        except (ServerError, OSError) as error:
            self.tally.errors.append(f"{self.name}: {type(error).__name__}: {error}"[:300])
        finally:
            with contextlib.suppress(Exception):
                await self.client.close()

    def widget(self, kind: str, label) -> Widget:  # noqa: ANN001
        found = self.client.find(kind, label)
        if found is None:
            shown = sorted({w.label for w in self.client.widgets.values()})
            raise ServerError(f"no {kind} {getattr(label, 'description', label)!r} on the Annotate page "
                              f"(clip {self.clip}; it shows {shown})")
        return found

    async def one_clip(self) -> None:
        started = time.perf_counter()
        edits = list(ASPECTS)[:2]
        steps = len(edits) + 4  # clue edits, emotion, rating, confidence, submit
        gap = self.pace / steps if self.pace else 0.0

        async def wait_turn(index: int) -> None:
            if gap:
                delay = started + gap * (index + 1) - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)

        for index, aspect in enumerate(edits):
            await wait_turn(index)
            box = self.widget("text_area", aspect.title)
            self.client.set_text(box, f"{aspect.value}: corrected by {self.name} at {time.time():.3f}.")
            run = await self.step("clue edit", lambda box=box: self.client.change(box))
            self.tally.autosave.append(run.seconds * 1000)
        labels = [w.label for w in self.client.widgets.values() if w.kind == "button"]
        emotion = next(label for label in ("happy", "sad", "neutral") if label in labels)
        stars = f"{self.random.randint(1, 4)} ·"
        for index, (kind, label) in enumerate([("button", emotion),
                                               ("button", lambda text: text.startswith(stars)),
                                               ("radio", "Your confidence")], start=len(edits)):
            await wait_turn(index)
            widget = self.widget(kind, label)
            if kind == "radio":
                self.client.set_text(widget, self.random.choice(widget.options))  # a radio sends its option
                run = await self.step("confidence", lambda widget=widget: self.client.change(widget))
            else:
                run = await self.step("emotion" if label == emotion else "rating",
                                      lambda widget=widget: self.client.click(widget))
            self.tally.autosave.append(run.seconds * 1000)
        await wait_turn(steps - 1)
        submit = self.widget("button", lambda text: text.startswith("Submit"))
        before = self.clip
        run = await self.step("submit", lambda: self.client.click(
            submit, watch=lambda forward: clip_name_in(forward) not in (None, before)))
        self.tally.submit_run.append(run.seconds * 1000)
        if any(text.startswith("Not submitted") for text in run.errors):
            return
        self.tally.submitted += 1
        self.clip = current_clip(self.client, run)
        if run.first_match is not None:
            self.tally.click_next.append((run.first_match - run.sent) * 1000)
        elif self.clip is not None:
            self.tally.errors.append(f"{self.name}: after Submit the page still shows {before}")


async def drive(server: Server, usernames: list[str], *, pace: float, duration: float, measure_cpu: bool) -> Tally:
    tally = Tally()
    until = time.perf_counter() + duration
    annotators = [Annotator(name, server, tally, pace=pace, until=until, seed=i, measure_cpu=measure_cpu)
                  for i, name in enumerate(usernames)]
    await asyncio.gather(*(a.work() for a in annotators))
    return tally


def past_overlap(url: str, dataset_id: int) -> tuple[int, int]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            per_clip = Counter(session.exec(select(Annotation.clip_id).where(Annotation.status == "submitted")).all())
            overlap = session.get(Dataset, dataset_id).overlap
    finally:
        engine.dispose()
    return sum(1 for n in per_clip.values() if n > overlap), sum(per_clip.values())


# --- the run ----------------------------------------------------------------------------------------


@dataclass
class Setting:
    label: str
    annotators: int
    pace: float


def parse_settings(text: str, pace: float, burst_annotators: int) -> list[Setting]:
    settings = []
    for part in text.split(","):
        part = part.strip()
        if part == "burst":
            settings.append(Setting(f"{burst_annotators} burst", burst_annotators, 0.0))
        elif part:
            settings.append(Setting(f"{int(part)} paced", int(part), pace))
    return settings


def run_backend(backend: str, args: argparse.Namespace, settings: list[Setting]) -> list[dict]:
    most = max(s.annotators for s in settings)
    rows: list[dict] = []
    admin = None
    name = f"cluelab_serve_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        if backend == "postgres":
            admin = sa.create_engine(args.postgres_admin, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            url = args.postgres_admin.rsplit("/", 1)[0] + f"/{name}"
        else:
            url = f"sqlite:///{data_dir / 'cluelab.db'}"
        try:
            started = time.perf_counter()
            instance = seed(backend, url, data_dir, clips=args.clips, annotators=most)
            print(f"[{backend}] {args.clips} clips ready in {time.perf_counter() - started:.0f} s", flush=True)
            server = Server(instance, processes=args.processes, worker=args.worker)
            try:
                server.wait_ready()
                # Warm-up: one sign-in and page load, so the first setting does not pay the imports.
                asyncio.run(drive(server, instance.usernames[-1:], pace=0, duration=0, measure_cpu=False))
                for setting in settings:
                    load_before = os.getloadavg()[0]
                    cpu = server.cpu_seconds()
                    tally = asyncio.run(drive(server, instance.usernames[:setting.annotators], pace=setting.pace,
                                              duration=args.duration, measure_cpu=setting.annotators == 1))
                    cpu = server.cpu_seconds() - cpu
                    rows.append({"backend": backend, "setting": setting, "tally": tally, "cpu": cpu,
                                 "load": (load_before + os.getloadavg()[0]) / 2})
                    print(f"[{backend}] {setting.label}: {tally.submitted} submitted, {len(tally.errors)} errors",
                          flush=True)
            finally:
                server.stop()
            over, submitted = past_overlap(url, instance.dataset_id)
            for row in rows:
                row["past_overlap"], row["submitted_total"] = over, submitted
            if args.domain:
                engine = make_engine(url)
                try:
                    for row in rows:
                        setting = row["setting"]
                        per = max(3, math.ceil(args.duration / setting.pace)) if setting.pace else args.domain_burst_clips
                        row["domain"] = domain_bench.run(engine, dataset_id=instance.dataset_id,
                                                         users=instance.domain_users[:setting.annotators],
                                                         per_annotator=per, think_ms=setting.pace * 1000)
                    print(f"[{backend}] domain calls done", flush=True)
                finally:
                    engine.dispose()
        finally:
            if admin is not None:
                with admin.connect() as connection:
                    connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    return rows


def fmt(values: list[float]) -> str:
    if not values:
        return f"{'–':>7}{'–':>8}{'–':>8}"
    return f"{statistics.median(values):>7.0f}{percentile(values, 0.95):>8.0f}{max(values):>8.0f}"


def report(rows: list[dict], args: argparse.Namespace) -> None:
    print(f"\nThrough the server: {args.clips} clips, overlap 3, {args.duration:.0f} s per setting, "
          f"pace {args.pace:.0f} s per clip, {args.processes} server process(es), worker "
          f"{'on' if args.worker else 'off'}; {os.cpu_count()} CPUs")
    header = (f"{'backend':<9}{'setting':<10}{'load':>5}{'clips':>6}"
              f"{'click→next ms p50/p95/max':>27}{'autosave ms p50/p95/max':>25}{'open p95':>9}"
              f"{'CPU/rerun':>10}{'errors':>7}{'past ovl':>9}")
    print(header)
    print("-" * len(header))
    for row in rows:
        t: Tally = row["tally"]
        cpu_per_rerun = row["cpu"] * 1000 / t.reruns if t.reruns else float("nan")
        print(f"{row['backend']:<9}{row['setting'].label:<10}{row['load']:>5.1f}{t.submitted:>6}"
              f"{fmt(t.click_next):>27}{fmt(t.autosave):>25}{percentile(t.first_load, 0.95):>9.0f}"
              f"{cpu_per_rerun:>8.0f}ms{len(t.errors):>7}{row['past_overlap']:>9}")
    solo = [row for row in rows if row["tally"].cpu_by_step]
    if solo:
        print("\nServer CPU per rerun with one annotator (ms, median over the run; psutil over the server processes)")
        for row in solo:
            parts = [f"{kind} {statistics.median(v):.0f}" for kind, v in row["tally"].cpu_by_step.items()]
            print(f"  {row['backend']:<9}" + " · ".join(parts))
    if any("domain" in row for row in rows):
        print("\nThe same settings as domain calls only (bench/annotate.py: threads calling load_task, save_draft, "
              "submit; no Streamlit)")
        header = f"{'backend':<9}{'setting':<10}{'load ms p50/p95/max':>22}{'draft ms p50/p95/max':>23}" \
                 f"{'submit ms p50/p95/max':>24}{'errors':>7}"
        print(header)
        print("-" * len(header))
        for row in rows:
            if "domain" not in row:
                continue
            d = row["domain"]
            print(f"{row['backend']:<9}{row['setting'].label:<10}{fmt(d['load']):>22}{fmt(d['draft']):>23}"
                  f"{fmt(d['submit']):>24}{len(d['errors']):>7}")
    for row in rows:
        for error in row["tally"].errors[:3]:
            print(f"  {row['backend']} {row['setting'].label}: {error}")
    print(f"\nReference, same scale: {REFERENCE}. Target: p95 click→next < 300 ms at 20 paced annotators, "
          f"0 errors, 0 clips past overlap. Load average now {os.getloadavg()[0]:.1f}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per setting")
    parser.add_argument("--pace", type=float, default=10.0, help="seconds per clip for paced annotators")
    parser.add_argument("--settings", default="1,5,20,burst", help="annotator counts, and 'burst'")
    parser.add_argument("--burst-annotators", type=int, default=20)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--processes", type=int, default=1, help="server processes behind `cluelab serve`")
    parser.add_argument("--worker", action="store_true", help="run the job worker beside the server")
    parser.add_argument("--domain", action=argparse.BooleanOptionalAction, default=True,
                        help="also time bench/annotate.py's domain calls with the same settings")
    parser.add_argument("--domain-burst-clips", type=int, default=20, help="clips per annotator, domain burst")
    parser.add_argument("--postgres-admin", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    settings = parse_settings(args.settings, args.pace, args.burst_annotators)
    rows: list[dict] = []
    for backend in args.backends.split(","):
        rows.extend(run_backend(backend.strip(), args, settings))
    report(rows, args)


if __name__ == "__main__":
    main()
