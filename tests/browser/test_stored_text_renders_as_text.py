"""Stored text never renders as markup: Markdown and HTML in every text field of a seeded instance,
every page viewed as annotator, lead, researcher and admin in headless Chromium, and no request may
reach a local listener the payload points at, nor any `javascript:` link appear in the page."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlmodel import Session

from annotation.studies import create_study, set_study_status
from cluelab.bootstrap import init_database
from components.navigation import PAGES, pages_for
from core.settings import get_settings
from core.vocabulary import ASPECTS
from db.engine import get_engine
from db.models import (
    Annotation,
    Clip,
    Consensus,
    Dataset,
    Job,
    ModelVersion,
    Prediction,
    Reference,
    StudyRating,
    User,
    utcnow,
)
from db.queries.users import create_user
from tests.browser.conftest import ARTIFACTS, CHROMIUM_ARGS, session_cookie, sign_in, start_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "violet-anchor-71-drums"


class Listener:
    """A local HTTP server that counts every request the payload could make a browser send."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def payload(port: int, where: str) -> str:
    # Under 128 characters (a study name's limit) with any five-digit port and the longest `where`.
    return f"![x](http://127.0.0.1:{port}/m-{where}.png) [x](javascript:alert(1)) <img src=http://127.0.0.1:{port}/h.png>"


def seed(port: int) -> dict[str, int]:
    """An instance whose every stored text holds the payload; returns user ids by role."""
    init_database()
    p = lambda where: payload(port, where)  # noqa: E731
    with Session(get_engine(), expire_on_commit=False) as session:
        people = {role: create_user(session, username=role, password=PASSWORD, roles=[role], display_name=p(role))
                  for role in ("annotator", "lead", "researcher", "admin")}
        second = create_user(session, username="annotator2", password=PASSWORD, roles=["annotator"],
                             display_name=p("annotator2"))
        dataset = Dataset(name=p("dataset"), description=p("description"), overlap=2, open_vocabulary=True)
        session.add(dataset)
        session.flush()
        clips = [Clip(dataset_id=dataset.id, name=p(f"clip{i}"), status="ready", transcript=p("transcript"),
                      transcript_words=[{"word": p("word"), "start": 0.0, "end": 1.0}], speaker=p("speaker"),
                      source_emotion=p("label"), language="en", duration=2.0, transcript_source="manifest")
                 for i in range(3)]
        clips.append(Clip(dataset_id=dataset.id, name=p("broken"), status="error", error=p("error")))
        session.add_all(clips)
        version = ModelVersion(backend="baseline", name=p("version"), dataset_id=dataset.id, is_active=True,
                               metrics={"held_out": {"per_class_f1": {"happy": 0.5}}})
        session.add(version)
        session.flush()
        for clip in clips[:3]:
            session.add(Prediction(clip_id=clip.id, model_version_id=version.id, emotion="happy",
                                   distribution={"happy": 0.6, "sad": 0.4}, uncertainty=0.4,
                                   clues={a.value: p(f"model-{a.value}") for a in ASPECTS},
                                   spans=[{"aspect": "facial", "start": 0.1, "end": 0.9, "label": p("span")}]))
            session.add(Reference(clip_id=clip.id, source="gt", emotion=p("ref-emotion"), reasoning=p("reasoning"),
                                  clues={a.value: p(f"ref-{a.value}") for a in ASPECTS}, language="en",
                                  translations={"zh": {"reasoning": p("translation")}},
                                  spans=[{"start": 0.2, "label": p("ref-span")}]))
            session.add(Reference(clip_id=clip.id, source=f"[s](http://127.0.0.1:{port}/src.png)", reasoning=p("r2")))
        now = utcnow()
        for user in (people["annotator"], second):
            session.add(Annotation(clip_id=clips[0].id, user_id=user.id, status="submitted", submitted_at=now,
                                   clues={a.value: p(f"clue-{a.value}") for a in ASPECTS}, emotion="other",
                                   emotion_other=p("other"), rating=3, confidence=3, note=p("note"),
                                   seconds_spent=12))
            session.add(Annotation(clip_id=clips[1].id, user_id=user.id, status="skipped", submitted_at=now,
                                   skip_reason="other", note=p("skip-note")))
        session.add(Annotation(clip_id=clips[2].id, user_id=people["annotator"].id, status="draft",
                               clues={a.value: p(f"draft-{a.value}") for a in ASPECTS}, note=p("draft-note")))
        session.add(Consensus(clip_id=clips[1].id, emotion="happy", clues={a.value: p("consensus") for a in ASPECTS},
                              note=p("consensus-note"), accepted_by_id=people["lead"].id))
        session.add(Job(kind="ingest", state="failed", message=p("job-message"), error=p("job-error"),
                        log=p("job-log"), total=2, done=1, failed=1, created_by_id=people["lead"].id,
                        result={"item_errors": [{"item": p("job-item"), "error": p("job-item-error")}]}))
        session.commit()
        study = create_study(session, user=people["researcher"], dataset_id=dataset.id, name=p("study"),
                             systems=[f"model:{version.id}", "reference:gt"], clip_count=3, seed=0,
                             description=p("study-description"))
        set_study_status(session, user=people["researcher"], study_id=study.id, status="open")
        from db.models import StudyItem

        item = session.query(StudyItem).filter(StudyItem.study_id == study.id).first()
        session.add(StudyRating(study_item_id=item.id, rater_id=people["lead"].id, rating=3, comment=p("comment")))
        session.commit()
        return {role: user.id for role, user in people.items()}


def settle(page) -> None:
    """Wait until Streamlit has finished running the page, then open every expander."""
    deadline, idle = time.monotonic() + 120, 0
    time.sleep(0.5)
    while time.monotonic() < deadline and idle < 3:  # idle at three looks in a row (fragments poll each second)
        state = page.locator('[data-testid="stApp"]').get_attribute("data-test-script-state")
        idle = idle + 1 if state == "notRunning" else 0
        time.sleep(0.3)
    for summary in page.locator('[data-testid="stExpander"] summary').all():
        with contextlib.suppress(Exception):  # an expander that re-rendered away is fine
            summary.click(timeout=2000)
    time.sleep(1.0)


def check_page(page, listener: Listener, port: int, where: str) -> None:
    bad_links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"
                                          ".filter(h => /^\\s*javascript:/i.test(h))")
    pointing = page.eval_on_selector_all(
        "[src], [href], [srcset]",
        f"els => els.map(e => e.outerHTML.slice(0, 200)).filter(h => h.includes('127.0.0.1:{port}'))")
    assert not bad_links, f"{where}: javascript: links {bad_links}"
    assert not pointing, f"{where}: elements point at the listener: {pointing}"
    assert not listener.hits, f"{where}: the browser fetched {listener.hits}"


def test_every_page_shows_stored_text_as_text(tmp_path):
    from playwright.sync_api import sync_playwright

    listener = Listener()
    port = listener.port
    ids = seed(port)
    process, url = start_app(get_settings().data_dir, entry="cluelab/web.py")
    users = {role: User(id=uid, username=role, password_hash="", roles=[role]) for role, uid in ids.items()}
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for role in ("annotator", "lead", "researcher", "admin"):
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                sign_in(page, role, PASSWORD, url=url)
                page.get_by_role("button", name="Sign out").wait_for(timeout=30_000)
                session_cookie(context)  # deep links below need it
                for spec in pages_for(users[role]):
                    slug = "" if spec.path == "pages/home.py" else spec.path.removeprefix("pages/").removesuffix(".py")
                    page.goto(f"{url}/{slug}")
                    try:
                        page.get_by_role("heading", name=spec.title if spec.path != "pages/home.py" else "ClueLab"
                                         ).first.wait_for(timeout=60_000)
                    finally:
                        page.screenshot(path=str(ARTIFACTS / f"text-{role}-{slug or 'home'}.png"), full_page=True)
                    settle(page)
                    if spec.path == "pages/clips.py":  # open the first clip: its name, speaker and references
                        grid = page.locator('[data-testid="stDataFrame"]').first.bounding_box()
                        page.mouse.click(grid["x"] + 12, grid["y"] + 36 + 30)
                        page.get_by_text("Imported labels and reasoning").wait_for(timeout=30_000)
                        settle(page)
                    check_page(page, listener, port, f"{role} on {spec.title}")
                    page.screenshot(path=str(ARTIFACTS / f"text-{role}-{slug or 'home'}.png"), full_page=True)
                context.close()
            browser.close()
        assert {spec.path for spec in PAGES} == {spec.path for spec in pages_for(users["admin"])}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
        listener.close()
