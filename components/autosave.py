"""Drafts saved off the rerun path: a change in the form returns at once, a worker thread writes the draft.

Each browser session has one `DraftSaver` (in st.session_state). Its saves run
one at a time and the newest change of a clip wins: a save that a newer one
has overtaken is dropped unwritten. A save that fails is reported at the next
change of that clip. Submitting or skipping the clip forgets its pending saves
(they would be refused anyway: the clip is no longer a draft).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import streamlit as st

from annotation.labelling import annotate
from annotation.labelling.queue import QueueError
from annotation.permissions import PermissionDenied

_LOG = logging.getLogger(__name__)
_STATE_KEY = "_cluelab_draft_saver"
# Shared by every session of this server process; drafts are small single-statement writes.
_WORKERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cluelab-autosave")


class DraftSaver:
    def __init__(self) -> None:
        self._one_at_a_time = threading.Lock()
        self._guard = threading.Lock()
        self._newest: dict[int | str, int] = {}  # clip -> number of its newest requested save
        self._count = 0
        self._errors: dict[int | str, str] = {}
        self._futures: dict[int | str, Future] = {}

    def save_later(self, clip_id: int | str, save: Callable[[], object]) -> str | None:
        """Queue `save` for the clip; returns why the previous save of this clip failed, if it did."""
        with self._guard:
            self._count += 1
            number = self._newest[clip_id] = self._count
            failed = self._errors.pop(clip_id, None)
            self._futures[clip_id] = _WORKERS.submit(self._run, clip_id, number, save)
        return failed

    def _run(self, clip_id: int | str, number: int, save: Callable[[], object]) -> None:
        with self._one_at_a_time:
            if self._newest.get(clip_id) != number:
                return  # overtaken by a newer change, or the clip was submitted
            try:
                save()
            except annotate.AlreadyFinished:
                pass  # submitted meanwhile (another tab): nothing to keep as a draft
            except (QueueError, PermissionDenied, ValueError) as error:
                with self._guard:
                    self._errors[clip_id] = str(error)
            except Exception as error:  # noqa: BLE001 - a worker thread must report, not die
                _LOG.exception("draft of clip %s not saved", clip_id)
                with self._guard:
                    self._errors[clip_id] = f"{type(error).__name__}: {error}"

    def wait(self, clip_id: int | str, timeout: float = 10.0) -> None:
        """Block until the clip's newest save has run (tests, and callers that read the draft back)."""
        future = self._futures.get(clip_id)
        if future is not None:
            future.result(timeout=timeout)

    def forget(self, clip_id: int | str) -> None:
        """Drop the clip's pending saves and errors (after it was submitted or skipped)."""
        with self._guard:
            self._newest.pop(clip_id, None)
            self._errors.pop(clip_id, None)
            self._futures.pop(clip_id, None)


def saver() -> DraftSaver:
    """This browser session's saver."""
    if _STATE_KEY not in st.session_state:
        st.session_state[_STATE_KEY] = DraftSaver()
    return st.session_state[_STATE_KEY]


def save_draft_later(*, user_id: int, clip_id: int, values: annotate.AnnotationInput,
                     seconds_spent: float | None) -> str | None:
    """Save the form as the user's draft in the background; returns an earlier save's failure, if any."""

    def save() -> None:
        annotate.save_draft(user=annotate.get_user(user_id=user_id), clip_id=clip_id, values=values,
                            seconds_spent=seconds_spent)

    return saver().save_later(clip_id, save)


def forget(clip_id: int | str) -> None:
    """Drop the clip's pending draft saves (call after submitting or skipping it)."""
    saver().forget(clip_id)


def wait(clip_id: int | str, timeout: float = 10.0) -> None:
    """Wait until the clip's newest draft save has run."""
    saver().wait(clip_id, timeout=timeout)
