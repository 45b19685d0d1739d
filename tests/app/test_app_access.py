"""The app as each role sees it: sign-in, the pages navigation offers, admin actions."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def _app(user_id: int | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if user_id is not None:
        at.session_state["user_id"] = user_id
    return at.run()


def test_sign_in_refuses_a_wrong_password_and_accepts_the_right_one(accounts):
    at = _app()
    assert not at.exception
    at.text_input[0].input("annotator")
    at.text_input[1].input("not-the-password")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["Wrong username or password."]
    assert "user_id" not in at.session_state
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert at.session_state["user_id"] == accounts["annotator"]
    # A browser lands on Home by URL after the rerun; AppTest keeps the old page, so open Home.
    at.switch_page(str(ROOT / "pages/home.py")).run()
    assert not at.exception
    assert any("Annotator" in m.value for m in at.markdown)


def test_annotator_cannot_open_lead_or_admin_pages(accounts):
    at = _app(accounts["annotator"])
    for page in ("pages/admin.py", "pages/datasets.py", "pages/clips.py", "pages/jobs.py"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(str(ROOT / page))


@pytest.mark.parametrize("role, page, title", [
    ("lead", "pages/datasets.py", "Datasets & import"),
    ("lead", "pages/clips.py", "Clips"),
    ("researcher", "pages/clips.py", "Clips"),
    ("lead", "pages/jobs.py", "Jobs"),
    ("admin", "pages/admin.py", "Users"),
])
def test_roles_reach_their_pages(accounts, role, page, title):
    at = _app(accounts[role])
    at.switch_page(str(ROOT / page)).run()
    assert not at.exception, at.exception
    assert at.title[0].value == title


def test_admin_creates_an_account_in_the_page(accounts):
    at = _app(accounts["admin"])
    at.switch_page(str(ROOT / "pages/admin.py")).run()
    form_inputs = [t for t in at.text_input if t.label in ("Username", "Display name", "Password (10+ characters)")]
    by_label = {t.label: t for t in form_inputs}
    by_label["Username"].input("newperson")
    by_label["Password (10+ characters)"].input("a-long-password")
    next(b for b in at.button if b.label == "Create").click().run()
    assert not at.exception, at.exception
    assert "newperson" in at.dataframe[0].value["username"].tolist()


def test_lead_imports_a_folder_from_the_page(accounts, tmp_path):
    from core.settings import get_settings
    from tests.media_factory import make_video

    folder = get_settings().data_dir / "imports" / "incoming"  # the app reads only under its import roots
    folder.mkdir(parents=True)
    make_video(folder / "a.mp4", seconds=1.0)
    (folder / "b.mp4").write_bytes(b"")
    at = _app(accounts["lead"])
    at.switch_page(str(ROOT / "pages/datasets.py")).run()
    next(t for t in at.text_input if t.label == "Name").input("Incoming")
    next(b for b in at.button if b.label == "Create").click().run()
    assert not at.exception, at.exception
    next(t for t in at.text_input if "manifest path" in t.label).input(str(folder))
    at.run()
    next(b for b in at.button if b.label == "Import from path").click().run()
    assert not at.exception, at.exception
    assert any("2 new clip(s)" in s.value for s in at.success)
    assert "ingest_job" in at.session_state


def test_admin_home_names_the_admin_role_not_lead(accounts):
    at = _app(accounts["admin"])
    at.switch_page(str(ROOT / "pages/home.py")).run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "**Admin**" in text and "**Lead**" not in text
    assert "Signed in as admin (admin)" in " ".join(c.value for c in at.caption)


def test_admin_pages_come_first_in_an_expanded_menu(accounts):
    from sqlmodel import Session

    from components.navigation import NAV_EXPANDED, sections_for
    from db.engine import get_engine
    from db.models import User

    with Session(get_engine()) as session:
        admin = session.get(User, accounts["admin"])
        sections = sections_for(admin)
    assert NAV_EXPANDED is True
    assert list(sections)[:2] == ["ClueLab", "Admin"]
    assert [spec.title for spec in sections["Admin"]] == ["Users", "Audit log"]


def test_a_refused_new_account_keeps_what_was_typed(accounts):
    at = _app(accounts["admin"])
    at.switch_page(str(ROOT / "pages/admin.py")).run()
    by_label = {t.label: t for t in at.text_input}
    by_label["Username"].input("new.person")
    by_label["Display name"].input("New Person")
    by_label["Password (10+ characters)"].input("short")
    next(b for b in at.button if b.label == "Create").click().run()
    assert not at.exception
    assert at.error, "the short password is refused"
    by_label = {t.label: t for t in at.text_input}
    assert by_label["Username"].value == "new.person"
    assert by_label["Display name"].value == "New Person"
    assert by_label["Password (10+ characters)"].value == "short"
    by_label["Password (10+ characters)"].input("a-long-enough-password")
    next(b for b in at.button if b.label == "Create").click().run()
    assert not at.exception
    assert "new.person" in at.dataframe[0].value["username"].tolist()
    assert {t.label: t for t in at.text_input}["Username"].value == ""  # a created account clears the form
