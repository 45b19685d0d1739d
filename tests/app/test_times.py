"""Stored UTC times are shown in the viewer's time zone (st.context.timezone), UTC when it is unknown."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from annotation import jobs
from components.times import format_in
from db.engine import get_engine
from db.models import Job, User

ROOT = Path(__file__).resolve().parents[2]
NOON_UTC = datetime(2026, 1, 15, 12, 5)  # stored naive, as SQLite hands it back


def test_format_in_a_zone_and_the_fallbacks():
    assert format_in(NOON_UTC, "Asia/Shanghai") == "2026-01-15 20:05 CST"
    assert format_in(NOON_UTC.replace(tzinfo=UTC), "America/New_York") == "2026-01-15 07:05 EST"
    assert format_in(NOON_UTC, None) == "2026-01-15 12:05 UTC"
    assert format_in(NOON_UTC, "Not/AZone") == "2026-01-15 12:05 UTC"
    assert format_in(None, "Asia/Shanghai") == "—"


def test_jobs_page_shows_times_in_the_viewers_zone(accounts):
    with Session(get_engine(), expire_on_commit=False) as session:
        lead = session.get(User, accounts["lead"])
    job_id = jobs.enqueue("ingest", params={"dataset_id": 1}, user=lead)
    with Session(get_engine()) as session:
        job = session.get(Job, job_id)
        job.created_at = NOON_UTC
        session.add(job)
        session.commit()
    at = AppTest.from_file(str(ROOT / "pages/jobs.py"), default_timeout=60)
    at.session_state["user_id"] = accounts["lead"]
    at.context["timezone"] = "Asia/Shanghai"
    at.run()
    assert not at.exception
    labels = " ".join(str(p.proto.text) for p in at.get("progress"))
    assert "2026-01-15 20:05 CST" in labels, labels


def test_models_page_shows_version_times_in_the_viewers_zone(accounts):
    from db.models import Dataset, ModelVersion

    with Session(get_engine()) as session:
        dataset = Dataset(name="pilot", label_set=["happy", "sad"])
        session.add(dataset)
        session.flush()
        session.add(ModelVersion(backend="baseline", name="v1", dataset_id=dataset.id, created_at=NOON_UTC))
        session.commit()
    at = AppTest.from_file(str(ROOT / "pages/models.py"), default_timeout=120)
    at.session_state["user_id"] = accounts["lead"]
    at.context["timezone"] = "Asia/Shanghai"
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["created"]) == ["2026-01-15 20:05 CST"]
