"""Pages that start jobs follow them to the end without a reload: the Jobs list and the Models page."""

from __future__ import annotations

import os
import signal

import pytest
from sqlmodel import Session

from annotation import jobs
from cluelab.bootstrap import init_database
from core.settings import get_settings
from core.vocabulary import JobState
from db.engine import get_engine
from db.models import Dataset, Job, ModelVersion, User, utcnow
from db.queries.users import create_user
from tests.browser.conftest import ARTIFACTS, sign_in, start_app

pytestmark = pytest.mark.browser
PASSWORD = "violet-anchor-71-drums"


def _finish(job_id: int, **fields) -> None:
    with Session(get_engine()) as session:
        job = session.get(Job, job_id)
        job.state, job.total, job.done, job.finished_at = JobState.done.value, 1, 1, utcnow()
        session.add(job)
        for row in fields.get("add", []):
            session.add(row)
        session.commit()


def test_jobs_and_models_pages_refresh_when_a_job_ends(browser_page):
    init_database()
    with Session(get_engine(), expire_on_commit=False) as session:
        lead = create_user(session, username="lead", password=PASSWORD, roles=["lead"])
        dataset = Dataset(name="pilot", label_set=["happy", "sad"])
        session.add(dataset)
        session.commit()
        lead = session.get(User, lead.id)
        dataset_id = dataset.id
    job_id = jobs.enqueue("ingest", params={"dataset_id": dataset_id}, user=lead)  # no worker: stays queued
    process, url = start_app(get_settings().data_dir)
    try:
        page = browser_page
        sign_in(page, "lead", PASSWORD, url=url)
        page.get_by_text("What to do next").wait_for(timeout=30_000)

        page.get_by_role("link", name="Jobs", exact=True).first.click()
        page.get_by_text(f"ingest #{job_id}: queued").wait_for(timeout=30_000)
        _finish(job_id)
        page.get_by_text(f"ingest #{job_id}: done — 1/1").wait_for(timeout=15_000)

        page.get_by_role("link", name="Models", exact=True).first.click()
        try:
            page.get_by_text("No model version yet").wait_for(timeout=90_000)  # the first visit loads the models
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "models-before-job.png"), full_page=True)
            raise
        page.get_by_role("button", name="Pre-annotate clips").click()
        page.get_by_text("predict #", exact=False).first.wait_for(timeout=15_000)
        predict_id = max(j.id for j in jobs.list_jobs(kind="predict"))
        _finish(predict_id, add=[ModelVersion(backend="baseline", name="fresh-version", dataset_id=dataset_id)])
        page.get_by_text("fresh-version").first.wait_for(timeout=15_000)
        assert page.get_by_text("No model version yet").count() == 0
        page.screenshot(path=str(ARTIFACTS / "models-after-job.png"), full_page=True)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
