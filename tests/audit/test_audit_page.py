"""The Audit page in AppTest: leads and admins read the log, filtered and paged; others are refused."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from db.engine import get_engine
from db.models import AuditLog, User, utcnow
from tests.app.conftest import accounts  # noqa: F401 - a migrated database with one account per role

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "audit.py")


def open_page(user_id: int) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["user_id"] = user_id
    return at.run()


def seed(ids: dict[str, int], *, count: int = 120) -> None:
    """`count` sign-ins by the annotator over the last `count` hours, then one export by the lead, newest."""
    now = utcnow()
    with Session(get_engine()) as session:
        for i in range(count):
            session.add(AuditLog(user_id=ids["annotator"], action="sign_in", entity="user", entity_id=ids["annotator"],
                                 detail={"n": i}, at=now - timedelta(hours=count - i)))
        session.add(AuditLog(user_id=ids["lead"], action="export", entity="dataset", entity_id=3,
                             detail={"source": "**consensus**", "format": "emer-v1"}, at=now))
        session.commit()


@pytest.mark.parametrize("role", ["lead", "admin"])
def test_leads_and_admins_read_the_log_newest_first(accounts, role):  # noqa: F811
    seed(accounts)
    at = open_page(accounts[role])
    assert not at.exception, at.exception
    assert at.title[0].value == "Audit log"
    table = at.dataframe[0].value
    assert len(table) == 50
    newest = table.iloc[0]
    assert (newest["User"], newest["Action"], newest["Target"]) == ("lead", "export", "dataset #3")
    # Stored text is shown as text: dataframe cells render no Markdown.
    assert '"source": "**consensus**"' in newest["Details"]
    assert any("Entries 1–50 of 121" in c.value and "page 1 of 3" in c.value for c in at.caption)


@pytest.mark.parametrize("role", ["annotator", "researcher"])
def test_annotators_and_researchers_are_refused(accounts, role):  # noqa: F811
    seed(accounts, count=3)
    at = open_page(accounts[role])
    assert not at.exception
    assert [e.value for e in at.error] == ["The audit log is for leads and admins."]
    assert not at.dataframe and not at.title


def test_filters_and_pages(accounts):  # noqa: F811
    seed(accounts)
    at = open_page(accounts["lead"])
    at.number_input(key="audit_page").set_value(3).run()
    assert len(at.dataframe[0].value) == 21
    assert at.dataframe[0].value.iloc[-1]["Details"] == '{"n": 0}'

    at.selectbox(key="audit_action").select("export").run()  # a new filter starts again on page 1
    assert at.session_state["audit_page"] == 1
    assert at.dataframe[0].value["Action"].tolist() == ["export"]

    at.selectbox(key="audit_action").select(None)
    at.selectbox(key="audit_user").select(accounts["annotator"]).run()
    assert set(at.dataframe[0].value["User"]) == {"annotator"}
    assert any("of 120 by annotator" in c.value for c in at.caption)

    yesterday = (utcnow() - timedelta(days=1)).date()
    at.date_input(key="audit_since").set_value(yesterday)
    at.date_input(key="audit_until").set_value(yesterday).run()
    with Session(get_engine()) as session:
        expected = [r.id for r in session.exec(select(AuditLog).where(AuditLog.user_id == accounts["annotator"]))
                    if r.at.date() == yesterday]
    assert 0 < len(expected) <= 24
    shown = at.dataframe[0].value
    assert len(shown) == len(expected) and set(shown["When (UTC)"].str[:10]) == {yesterday.isoformat()}

    at.date_input(key="audit_since").set_value(utcnow().date() + timedelta(days=2))
    at.date_input(key="audit_until").set_value(None).run()
    assert not at.dataframe and at.info[0].value == "No audit entries match."


def test_an_account_name_is_shown_as_text(accounts):  # noqa: F811
    with Session(get_engine()) as session:
        odd = User(username="__init__", password_hash="!", roles=["annotator"])
        session.add(odd)
        session.commit()
        odd_id = odd.id
        session.add(AuditLog(user_id=odd_id, action="sign_in", entity="user", entity_id=odd_id))
        session.commit()
    at = open_page(accounts["admin"])
    at.selectbox(key="audit_user").select(odd_id).run()
    caption = next(c.value for c in at.caption if "Entries" in c.value)
    assert "&#95;&#95;init&#95;&#95;" in caption  # not bold "init"
