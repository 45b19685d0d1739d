"""Adjudicate in headless Chromium: accept a proposal whose clues hold decimals and Mandarin, the stored
consensus is byte-identical, the confirmation sits by the buttons with Undo, and Alt+J / Alt+K walk the queue."""

from __future__ import annotations

import os
import signal

import pytest
from sqlmodel import Session

from cluelab.bootstrap import init_database
from core.settings import get_settings
from db.engine import get_engine
from db.models import AuditLog, Dataset
from db.queries.consensus import current_consensus
from db.queries.users import create_user
from tests.annotation.factories_consensus import make_annotation, make_clip
from tests.browser.conftest import ARTIFACTS, sign_in, start_app

pytestmark = pytest.mark.browser
PASSWORD = "violet-anchor-71-drums"
CLUES = {"facial": "AU12 0.52 at 1.5 s: the corners of the mouth rise.", "vocal": "音量比中位数高 9 dB。"}


def test_lead_accepts_undoes_and_walks_the_queue_by_keyboard(browser_page):
    init_database()
    with Session(get_engine(), expire_on_commit=False) as session:
        create_user(session, username="lead", password=PASSWORD, roles=["lead"])
        annotators = [create_user(session, username=f"ann{i}", password=PASSWORD, roles=["annotator"])
                      for i in range(2)]
        dataset = Dataset(name="pilot", label_set=["happy", "sad"], overlap=2)
        session.add(dataset)
        session.flush()
        clips = [make_clip(session, dataset, name) for name in ("clip-a", "clip-b")]
        for who in annotators:
            make_annotation(session, clips[0], who, emotion="happy", clues=CLUES)
            make_annotation(session, clips[1], who, emotion="sad", clues={"facial": "Tears 2.5 s long."})
        session.commit()
        first_id = clips[0].id
    process, url = start_app(get_settings().data_dir)
    try:
        page = browser_page
        sign_in(page, "lead", PASSWORD, url=url)
        page.get_by_text("What to do next").wait_for(timeout=30_000)
        page.get_by_role("link", name="Adjudicate", exact=True).first.click()
        page.get_by_text("1 of 2 waiting").wait_for(timeout=60_000)
        assert page.get_by_text("clip-a", exact=True).count() >= 1

        move_by_key(page, "Alt+KeyJ", came_from="1 of 2 waiting", goes_to="2 of 2 waiting")
        move_by_key(page, "Alt+KeyK", came_from="2 of 2 waiting", goes_to="1 of 2 waiting")

        page.get_by_role("button", name="Accept proposal").click()
        stored = page.get_by_text("Consensus stored for clip-a (revision 1).")
        stored.first.wait_for(timeout=30_000)
        with Session(get_engine()) as session:
            row = current_consensus(session, clip_id=first_id)
            assert row is not None
            for aspect, text in CLUES.items():
                assert row.clues[aspect].encode() == text.encode()
        undo = page.get_by_role("button", name="Undo")
        undo.wait_for(timeout=30_000)  # the toast may show before the message by the buttons
        page.screenshot(path=str(ARTIFACTS / "adjudicate-accepted.png"), full_page=True)
        undo.click()
        page.get_by_text("Undone: clip-a waits for a decision again.").first.wait_for(timeout=30_000)
        with Session(get_engine()) as session:
            assert current_consensus(session, clip_id=first_id) is None
            assert session.query(AuditLog).filter(AuditLog.action == "consensus.undo").count() == 1
        page.get_by_text("of 2 waiting").first.wait_for(timeout=15_000)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def move_by_key(page, key: str, *, came_from: str, goes_to: str) -> None:  # noqa: ANN001
    """Press `key` until the page moves: a key pressed in the instant before the page's listener is mounted
    reaches nothing. Pressed again only while the page still shows where it came from (the queue wraps)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(4):
        if page.get_by_text(came_from).count():
            page.keyboard.press(key)
        try:
            page.get_by_text(goes_to).wait_for(timeout=6_000)
            return
        except PlaywrightTimeout:
            continue
    page.get_by_text(goes_to).wait_for(timeout=15_000)
