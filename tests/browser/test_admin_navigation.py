"""An admin sees the Users page in the sidebar at once (not folded under "View N more") and their real role."""

from __future__ import annotations

import os
import signal

import pytest
from sqlmodel import Session

from cluelab.bootstrap import init_database
from core.settings import get_settings
from db.engine import get_engine
from db.queries.users import create_user
from tests.browser.conftest import ARTIFACTS, sign_in, start_app

pytestmark = pytest.mark.browser
PASSWORD = "violet-anchor-71-drums"


def test_admin_sees_users_in_the_sidebar(browser_page):
    init_database()
    with Session(get_engine()) as session:
        create_user(session, username="root", password=PASSWORD, roles=["admin"])
        session.commit()
    process, url = start_app(get_settings().data_dir)
    try:
        page = browser_page
        sign_in(page, "root", PASSWORD, url=url)
        page.get_by_text("What to do next").wait_for(timeout=30_000)
        users = page.get_by_test_id("stSidebarNav").get_by_role("link", name="Users")
        users.wait_for(timeout=10_000)
        assert users.is_visible()
        assert page.get_by_text("more", exact=False).filter(has_text="View").count() == 0
        assert page.get_by_text("Signed in as root (admin).").count() == 1
        page.screenshot(path=str(ARTIFACTS / "home-admin.png"), full_page=True)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
