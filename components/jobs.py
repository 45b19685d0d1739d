"""Job widgets: a live progress bar for one job, and a job list with logs.

Both poll the job state (a fragment that reruns itself) only while a job is queued or running; when one
ends they rerun the whole page, so what the job made (a model version, imported clips) shows at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from annotation import jobs
from annotation.permissions import PermissionDenied
from components.text import plain
from components.times import when
from core.vocabulary import JobState

if TYPE_CHECKING:
    from db.models import Job, User

FINISHED = {JobState.done.value, JobState.failed.value, JobState.cancelled.value}
POLL_SECONDS = 1.0


def _polling() -> bool:
    """True in a fragment's own rerun (a poll), False while the whole page runs."""
    ctx = get_script_run_ctx()
    return bool(ctx and ctx.fragment_ids_this_run)


def _page_rerun() -> None:
    """A job ended while its fragment polled: rerun the page so everything the job changed is drawn."""
    if _polling():
        st.rerun(scope="app")


def _draw(job_id: int, row: Job | None = None) -> bool:
    """Draw the job's state (`row` when already read); returns True while it is still going."""
    row = row if row is not None else jobs.get_job(job_id)
    if row is None:
        st.warning(f"Job {job_id} is gone.")
        return False
    label = f"{row.kind} #{row.id}: {row.state}"
    if row.total:
        label += f" — {row.done + row.failed}/{row.total}"
    label += f" · started {when(row.created_at)}"
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


def job_progress(job_id: int, on_end: Callable[[], None] | None = None) -> None:
    """A progress bar that refreshes itself each second until the job ends, then reruns the page. `on_end`
    runs once, the first time this session sees the job ended (e.g. to drop a cache the job made stale)."""
    finished: set[int] = st.session_state.setdefault("_finished_jobs", set())

    def _ended() -> None:
        finished.add(job_id)
        if on_end is not None:
            on_end()

    @st.fragment(run_every=POLL_SECONDS)
    def _poll() -> None:
        if not _draw(job_id):
            _ended()
            _page_rerun()

    if job_id in finished:
        _draw(job_id)
    else:
        _poll()


def job_outcome(job_id: int, *, doing: str, show_result: Callable[[Job], None], unit: str = "") -> None:
    """A job's outcome where it was started: its progress while it runs (polled like `job_progress`), then
    its error or the page's view of its result (`show_result`)."""
    row = jobs.get_job(job_id)
    if row is None:
        return
    active = row.state not in FINISHED

    @st.fragment(run_every=POLL_SECONDS if active else None)
    def _outcome() -> None:
        current = jobs.get_job(job_id) if _polling() else row
        if current is None:
            return
        if current.state not in FINISHED:
            st.progress(current.progress,
                        text=f"{doing}… {current.done}/{current.total or '?'} {unit} {plain(current.message)}")
            return
        if active:
            _page_rerun()  # it ended while polled: the page reruns, draws the outcome and stops polling
        if current.state != JobState.done.value:
            st.error(plain(current.error or f"{doing} was {current.state}."))
            return
        show_result(current)

    _outcome()


def jobs_table(user: User, limit: int = 30) -> None:
    """Recent jobs; Cancel and Retry for the jobs `user` may manage (their own, or any for a lead)."""
    rows = jobs.list_jobs(limit=limit)
    if not rows:
        st.info("No jobs yet. Imports, training, predictions and exports show up here once started.")
        return
    live_list(rows, lambda: jobs.list_jobs(limit=limit), lambda row: _job_row(user, row))


def live_list(rows: list[Job], read: Callable[[], list[Job]], draw: Callable[[Job], None]) -> None:
    """Draw `rows`; while one of them is queued or running, re-read them (`read`) every POLL_SECONDS and
    redraw; when the last one ends, rerun the page (which then stops polling)."""
    active = any(row.state not in FINISHED for row in rows)

    @st.fragment(run_every=POLL_SECONDS if active else None)
    def _rows() -> None:
        shown = read() if _polling() else rows
        for row in shown:
            draw(row)
        if active and all(row.state in FINISHED for row in shown):
            _page_rerun()

    _rows()


def _job_row(user: User, row: Job) -> None:
    with st.container(border=True):
        head, actions = st.columns([5, 1])
        with head:
            _draw(int(row.id), row)
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
        st.error(plain(error))
    else:
        st.rerun(scope="app")


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they are stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
