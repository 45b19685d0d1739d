"""A demo annotator signs in on the real app in headless Chromium, lands on Home and opens a pre-annotated clip."""

from __future__ import annotations

import os
import re
import signal

import pytest
from playwright.sync_api import expect

from cluelab.bootstrap import seed_demo
from core.settings import get_settings
from tests.browser.conftest import ARTIFACTS, start_app

pytestmark = pytest.mark.browser


def test_demo_annotator_signs_in_and_sees_home(browser_page):
    result = seed_demo(passwords={"annotator1": "demo-password-1"})
    assert result.new_passwords["annotator1"] == "demo-password-1"
    assert result.ingest.ready == 24 and result.ingest.failed == 0
    assert result.predicted == 24
    process, url = start_app(get_settings().data_dir)
    try:
        page = browser_page
        page.goto(url)
        page.get_by_label("Username").fill("annotator1")
        page.get_by_role("textbox", name="Password").fill("wrong-password")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("Wrong username or password.").wait_for(timeout=30_000)

        page.get_by_role("textbox", name="Password").fill("demo-password-1")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("What to do next").wait_for(timeout=30_000)
        page.get_by_text("24 clip(s) waiting for you").wait_for(timeout=10_000)
        assert page.get_by_role("link", name="Users").count() == 0  # not an admin
        page.screenshot(path=str(ARTIFACTS / "home-annotator.png"), full_page=True)

        # The demo is pre-annotated: the first clip opens with the model's clues to correct.
        page.get_by_role("link", name="Annotate", exact=True).first.click()
        page.get_by_text("Facial expression & body").first.wait_for(timeout=60_000)
        facial = page.get_by_role("textbox", name="Facial expression & body").first
        # The editors render inside a fragment: on a loaded machine the box can show before its value arrives.
        expect(facial).to_have_value(re.compile(r"\S"), timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "annotate-demo.png"), full_page=True)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
