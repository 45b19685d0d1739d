"""A reload no longer signs the user out: the session cookie brings them back, in new tabs and on deep
links, until sign-out or deactivation revokes it. Run as `cluelab serve` serves it (the server sets an
HttpOnly cookie) and as plain `streamlit run app.py` (the page writes the cookie)."""

from __future__ import annotations

import os
import signal

import pytest
from sqlmodel import Session

from annotation import sessions
from annotation.accounts import set_account_active
from cluelab.bootstrap import init_database
from core.settings import get_settings
from db.engine import get_engine
from db.queries.users import create_user
from tests.browser.conftest import ARTIFACTS, session_cookie, sign_in, start_app

pytestmark = pytest.mark.browser
PASSWORD = "violet-anchor-71-drums"


def _signed_in(page) -> None:
    page.get_by_text("What to do next").wait_for(timeout=30_000)


def _sign_in_form(page) -> None:
    page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)


@pytest.mark.parametrize("entry", ["cluelab/web.py", "app.py"])
def test_reload_keeps_the_user_signed_in_until_revoked(browser_page, entry):
    init_database()
    with Session(get_engine(), expire_on_commit=False) as session:
        admin = create_user(session, username="boss", password=PASSWORD, roles=["admin"])
        ann = create_user(session, username="ann", password=PASSWORD, roles=["annotator"])
        session.commit()
    process, url = start_app(get_settings().data_dir, entry=entry)
    page = browser_page
    context = page.context
    try:
        sign_in(page, "Ann", PASSWORD, url=url)  # names ignore case
        _signed_in(page)
        cookie = session_cookie(context)
        assert cookie["sameSite"] == "Strict"
        assert cookie["httpOnly"] is (entry == "cluelab/web.py")
        assert page.evaluate("document.cookie").count(sessions.COOKIE_NAME) == (0 if cookie["httpOnly"] else 1)

        page.reload()
        _signed_in(page)
        page.goto(url + "/annotate")  # a deep link after a reload
        page.get_by_text("There is no dataset to annotate yet.").wait_for(timeout=30_000)
        assert page.get_by_role("button", name="Sign in").count() == 0
        with page.expect_popup() as opened:  # a new tab of the same browser
            page.evaluate(f"window.open('{url}')")
        second = opened.value
        _signed_in(second)
        second.close()
        page.screenshot(path=str(ARTIFACTS / f"session-reload-{entry.replace('/', '-')}.png"))

        # Sign-out revokes the token: putting the old cookie back does not sign in again.
        page.goto(url)
        _signed_in(page)
        page.get_by_role("button", name="Sign out").click()
        _sign_in_form(page)
        assert sessions.resume(token=cookie["value"]) is None
        context.add_cookies([{k: cookie[k] for k in ("name", "value", "domain", "path")}])
        page.reload()
        _sign_in_form(page)

        # Deactivation revokes it too, for a browser that is signed in right now.
        sign_in(page, "ann", PASSWORD)
        _signed_in(page)
        fresh = session_cookie(context)
        assert fresh["value"] != cookie["value"]
        set_account_active(actor=admin, user_id=ann.id, active=False)
        page.reload()
        _sign_in_form(page)
        assert sessions.resume(token=fresh["value"]) is None
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
