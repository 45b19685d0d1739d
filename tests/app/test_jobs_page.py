"""The Jobs page acts as the signed-in person: Cancel and Retry only on jobs they may manage."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from annotation import jobs
from core.vocabulary import JobState
from db.engine import get_engine
from db.models import AuditLog, User

ROOT = Path(__file__).resolve().parents[2]


def _page(user_id: int) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages/jobs.py"), default_timeout=60)
    at.session_state["user_id"] = user_id
    return at.run()


def _user(user_id: int) -> User:
    with Session(get_engine(), expire_on_commit=False) as session:
        return session.get(User, user_id)


def test_a_researcher_sees_no_cancel_on_a_leads_job_and_a_lead_cancels_it(accounts):
    leads_job = jobs.enqueue("ingest", params={"dataset_id": 1}, user=_user(accounts["lead"]))
    own_job = jobs.enqueue("predict", params={"dataset_id": 1}, user=_user(accounts["researcher"]))

    researcher = _page(accounts["researcher"])
    assert not researcher.exception
    assert [b.key for b in researcher.button if b.label == "Cancel"] == [f"cancel_{own_job}"]

    lead = _page(accounts["lead"])
    assert sorted(b.key for b in lead.button if b.label == "Cancel") == sorted([f"cancel_{leads_job}",
                                                                                  f"cancel_{own_job}"])
    lead.button(key=f"cancel_{own_job}").click().run()
    assert not lead.exception
    assert jobs.get_job(own_job).state == JobState.cancelled.value
    with Session(get_engine()) as session:
        entry = session.get(AuditLog, 1)
        assert (entry.action, entry.user_id, entry.entity_id) == ("cancel_job", accounts["lead"], own_job)

    # Retrying it from the page runs it as the lead (the worker would; here nothing runs it).
    lead.button(key=f"retry_{own_job}").click().run()
    row = jobs.get_job(own_job)
    assert row.state == JobState.queued.value and row.run_as_id == accounts["lead"]


def test_no_jobs_says_so(accounts):
    at = _page(accounts["lead"])
    assert not at.exception
    assert any("No jobs yet" in i.value for i in at.info)
