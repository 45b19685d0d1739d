"""Job widgets: a live progress bar for one job, and a job list with logs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import streamlit as st

from annotation import jobs
from annotation.permissions import PermissionDenied
from components.text import plain
from core.vocabulary import JobState

if TYPE_CHECKING:
    from db.models import User

FINISHED = {JobState.done.value, JobState.failed.value, JobState.cancelled.value}


def _draw(job_id: int) -> bool:
    """Draw the job's state; returns True while it is still going."""
    row = jobs.get_job(job_id)
    if row is None:
        st.warning(f"Job {job_id} is gone.")
        return False
    label = f"{row.kind} #{row.id}: {row.state} — {row.done + row.failed}/{row.total or '?'}"
    if row.message:
        label += f" · {plain(row.message)}"
    st.progress(row.progress, text=label)
    if row.failed:
        with st.expander(f"{row.failed} item(s) failed"):
            for item in row.result.get("item_errors", [])[-50:]:
                st.markdown(f"- **{plain(item['item'])}**: {plain(item['error'])}")
    if row.state == JobState.failed.value:
        st.error(plain(row.error or "failed"))
    if row.state == JobState.queued.value and (datetime.now(UTC) - _aware(row.created_at)).total_seconds() > 10:
        st.caption("Waiting for a worker — is `cluelab worker` (or `cluelab serve`) running?")
    return row.state not in FINISHED


def job_progress(job_id: int) -> None:
    """A progress bar that refreshes itself each second until the job ends."""

    @st.fragment(run_every=1.0)
    def _poll() -> None:
        if not _draw(job_id):
            st.session_state.setdefault("_finished_jobs", set()).add(job_id)

    if job_id in st.session_state.get("_finished_jobs", set()):
        _draw(job_id)
    else:
        _poll()


def jobs_table(user: User, limit: int = 30) -> None:
    """Recent jobs; Cancel and Retry for the jobs `user` may manage (their own, or any for a lead)."""
    for row in jobs.list_jobs(limit=limit):
        with st.container(border=True):
            head, actions = st.columns([5, 1])
            with head:
                _draw(int(row.id))
            with actions:
                if not jobs.may_manage(user, row):
                    pass
                elif row.state in (JobState.queued.value, JobState.running.value):
                    if st.button("Cancel", key=f"cancel_{row.id}"):
                        _act(lambda job_id=int(row.id): jobs.cancel(job_id=job_id, actor=user))
                elif row.state in (JobState.failed.value, JobState.cancelled.value) and st.button(
                        "Retry", key=f"retry_{row.id}", help="Runs again as you, skipping what it finished."):
                    _act(lambda job_id=int(row.id): jobs.retry(job_id=job_id, actor=user))
            if row.log:
                with st.expander("Log"):
                    st.code(row.log[-3000:], language=None)


def _act(action: Callable[[], None]) -> None:
    try:
        action()
    except (PermissionDenied, ValueError) as error:
        st.error(str(error))
    else:
        st.rerun()


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they are stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
