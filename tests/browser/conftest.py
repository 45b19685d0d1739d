"""Browser tests: the real app on a free port, driven by Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Logs of the servers started during the running test: a failing test's report ends with their tails.
_SERVER_LOGS: list[Path] = []


def start_app(data_dir: Path, entry: str | Path = "app.py", env: dict[str, str] | None = None,
              ) -> tuple[subprocess.Popen, str]:
    """Serve `entry` (relative to the repository, or a test's own entry file): app.py as `streamlit run app.py`
    does, or cluelab/web.py as `cluelab serve` does; `env` adds to the environment. Stop it with `stop_app`.
    The server's output goes to a log whose tail a failing test's report shows."""
    port = free_port()
    environment = {**os.environ, "CLUELAB_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT), **(env or {})}
    log_path = Path(tempfile.mkstemp(prefix=f"cluelab-server-{port}-", suffix=".log")[1])
    _SERVER_LOGS.append(log_path)
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / entry), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--client.toolbarMode", "viewer", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()  # the server holds its own copy
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                return process, url
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"the app did not start within 60 s; its output:\n{_tail(log_path)}")


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"(no log: {error})"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ANN001, ANN201
    """A failing browser test's report ends with the tail of each server's output (tracebacks, warnings)."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for path in _SERVER_LOGS:
            report.sections.append((f"server output ({path.name})", _tail(path)))


@pytest.fixture(autouse=True)
def _forget_server_logs() -> Iterator[None]:
    yield
    for path in _SERVER_LOGS:
        path.unlink(missing_ok=True)
    _SERVER_LOGS.clear()


def stop_app(process: subprocess.Popen) -> None:
    """Stop a server from `start_app` and everything it started."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def browser_page() -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (the README's test command does)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        yield page
        browser.close()


def session_cookie(context, timeout: float = 15.0) -> dict:
    """The browser's ClueLab session cookie, once the page has set it (it follows sign-in by a moment)."""
    from annotation.sessions import COOKIE_NAME

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [c for c in context.cookies() if c["name"] == COOKIE_NAME and c["value"]]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError("no session cookie was set")


def sign_in(page, username: str, password: str, *, url: str | None = None) -> None:  # noqa: ANN001
    """Fill the sign-in form (opening `url` first when given) and submit it; the caller waits for what follows."""
    if url is not None:
        page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def press_until_shown(page, key: str, shown, *, attempts: int = 5) -> None:  # noqa: ANN001
    """Press an idempotent shortcut until its effect shows: right after a rerun draws a new view, the page's
    key listener may not be mounted yet, and a key pressed in that instant reaches nothing."""
    from playwright.sync_api import expect

    for attempt in range(attempts):
        page.keyboard.press(key)
        try:
            expect(shown).to_be_visible(timeout=4_000 if attempt < attempts - 1 else 15_000)
            return
        except AssertionError:
            if attempt == attempts - 1:
                raise

