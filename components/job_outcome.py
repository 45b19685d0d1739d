"""A job's outcome where it was started: progress while it runs, its error, or the page's view of its result."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import streamlit as st

from annotation.jobs import get_job
from components.text import plain
from core.vocabulary import JobState

if TYPE_CHECKING:
    from db.models import Job


def job_outcome(job_id: int, *, doing: str, show_result: Callable[[Job], None], unit: str = "") -> None:
    """Polls each second while the job is queued or running; then shows the error or calls `show_result`."""

    @st.fragment(run_every=1.0)
    def _outcome() -> None:
        row = get_job(job_id)
        if row is None:
            return
        if row.state in (JobState.queued.value, JobState.running.value):
            st.progress(row.progress, text=f"{doing}… {row.done}/{row.total or '?'} {unit} {plain(row.message)}")
            return
        if row.state != JobState.done.value:
            st.error(plain(row.error or f"{doing} was {row.state}."))
            return
        show_result(row)

    _outcome()
