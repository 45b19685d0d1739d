"""`cluelab serve --processes 2` end to end, over Streamlit's own websocket protocol (no browser).

Two annotators come in through the sticky proxy, land on different server processes,
sign in, and work the Annotate page: a clue edit or a picker click reruns only its
fragment, Submit brings the next clip. SIGTERM stops every process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from sqlmodel import Session, select

from bench.streamlit_client import FINISHED_FRAGMENT_RUN, AppClient
from cluelab.bootstrap import init_database
from db.engine import get_engine
from db.models import Annotation
from db.queries.users import create_user
from tests.queue.factories import make_dataset

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "serve-test-password"


def _free_ports(count: int) -> int:
    """A first port with `count` free ports from it on."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count >= 65535:
            continue
        try:
            holders = []
            for port in range(first, first + count):
                holder = socket.socket()
                holders.append(holder)
                holder.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for holder in holders:
                holder.close()
    raise RuntimeError("no free ports")


def _wait_healthy(port: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "cluelab serve exited"
        with contextlib.suppress(OSError), urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                                                 timeout=2) as answer:
            if answer.status == 200:
                return
        time.sleep(0.3)
    raise TimeoutError(f"port {port} not healthy")


async def _annotate(base: str, username: str) -> dict:
    client = AppClient(base, timeout=60)
    await client.open()
    try:
        cookie = client.cookies.get("cluelab_backend")
        await client.sign_in(username, PASSWORD)
        page = await client.run(page="annotate")
        assert not page.errors, page.errors
        clip = next(h for h in page.headings if h.startswith("clip"))
        box = client.find("text_area", "Facial expression & body")
        client.set_text(box, f"{username} sees a wide smile")
        edit = await client.change(box)
        emotion = await client.click(client.find("button", "happy"))
        rating = await client.click(client.find("button", lambda label: label.startswith("3 ·")))
        submit = await client.click(client.find("button", lambda label: label.startswith("Submit")))
        return {"backend": cookie, "clip": clip, "edit": edit, "emotion": emotion, "rating": rating,
                "submit": submit}
    finally:
        await client.close()


@pytest.mark.slow
def test_two_processes_behind_the_proxy_serve_the_annotate_page():
    init_database()
    engine = get_engine()
    dataset, clips = make_dataset(engine, clips=4, overlap=2)
    with Session(engine) as session:
        for name in ("anna", "bert"):
            create_user(session, username=name, password=PASSWORD, roles=["annotator"])
        session.commit()
    port = _free_ports(3)
    server = subprocess.Popen(
        [sys.executable, "-m", "cluelab.cli", "serve", "--no-worker", "--processes", "2", "--port", str(port),
         "--address", "127.0.0.1"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for backend in (port + 1, port + 2, port):
            _wait_healthy(backend, server)
        children = psutil.Process(server.pid).children(recursive=True)

        async def both() -> list[dict]:
            first = await _annotate(f"http://127.0.0.1:{port}", "anna")
            second = await _annotate(f"http://127.0.0.1:{port}", "bert")
            return [first, second]

        results = asyncio.run(both())
        assert {r["backend"] for r in results} == {"0", "1"}  # one annotator per server process
        for r in results:
            for step in ("edit", "emotion", "rating"):  # only the fragment reruns, the page is not redrawn
                assert r[step].status == FINISHED_FRAGMENT_RUN and "Annotate" not in r[step].headings
                assert not r[step].errors
            assert not r["submit"].errors
            following = [h for h in r["submit"].headings if h.startswith("clip")]
            assert following and following[0] != r["clip"]  # Submit brought the next clip
        with Session(engine) as session:
            stored = session.exec(select(Annotation).where(Annotation.status == "submitted")).all()
        assert sorted(a.clues["facial"] for a in stored) == ["anna sees a wide smile", "bert sees a wide smile"]
        assert all((a.emotion, a.rating) == ("happy", 3) for a in stored)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    time.sleep(1)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
