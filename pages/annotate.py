"""Annotate: the annotator's queue, one clip at a time. Every change autosaves a draft."""

from __future__ import annotations

import time

import streamlit as st

from annotation.labelling import annotate
from annotation.labelling.queue import QueueError
from annotation.permissions import PermissionDenied
from components import clue_editor, clue_flags, emotion_picker, emotion_words, previous_clip, rating
from components.autosave import forget as autosave_forget
from components.autosave import save_draft_later as autosave_later
from components.navigation import guard
from components.player import player
from components.shortcuts import shortcuts as keyboard_shortcuts
from components.text import plain
from components.times import when
from core.settings import get_settings

FLASH = "annotate_flash"
PROBLEMS = "annotate_problems"
DATASET = "annotate_dataset_id"
UNDO = "annotate_undo"  # (annotation id, clip id, clip name) of the latest submission, while it can be taken back
TOAST = "annotate_toast"
ICONS = {"success": ":material/check_circle:", "error": ":material/warning:", "info": ":material/info:"}


def skip_reason_key(clip_id: int) -> str:
    return f"skip_reason_{clip_id}"


def skip_note_key(clip_id: int) -> str:
    return f"skip_note_{clip_id}"


# --- form state ---------------------------------------------------------------------


def seed_form(task: annotate.Task) -> None:
    """Put the draft (or the model's clues) into the widgets, once per clip and page visit."""
    clip_id = task.clip.id
    if clue_editor.is_seeded(clip_id):
        return
    clue_editor.seed_form(clip_id, task.initial_input())
    st.session_state[f"restored_{clip_id}"] = task.annotation is not None
    if f"t0_{clip_id}" not in st.session_state:
        st.session_state[f"t0_{clip_id}"] = time.monotonic()
        st.session_state[f"seconds_base_{clip_id}"] = task.annotation.seconds_spent if task.annotation else 0.0


def seconds_spent(clip_id: int) -> float:
    started = st.session_state.get(f"t0_{clip_id}", time.monotonic())
    return float(st.session_state.get(f"seconds_base_{clip_id}", 0.0)) + (time.monotonic() - started)


# --- actions (widget callbacks: they run before the page is drawn) ---------------------------


def autosave(user_id: int, clip_id: int) -> None:
    try:  # written by a worker thread: the rerun does not wait for the database
        failed = autosave_later(user_id=user_id, clip_id=clip_id, values=clue_editor.form_values(clip_id),
                                seconds_spent=seconds_spent(clip_id))
        st.session_state.pop(PROBLEMS, None)
        if failed:
            flash(("error", plain(f"Draft not saved: {failed}")))
    except (QueueError, PermissionDenied, ValueError) as error:
        flash(("error", plain(f"Draft not saved: {error}")))


def do_submit(user_id: int, clip_id: int, clip_name: str) -> None:
    try:
        user = annotate.get_user(user_id=user_id)
        submitted = annotate.submit(user=user, clip_id=clip_id, values=clue_editor.form_values(clip_id),
                                    seconds_spent=seconds_spent(clip_id))
    except annotate.InvalidAnnotation as invalid:
        st.session_state[PROBLEMS] = invalid.problems
        st.session_state[TOAST] = ("Not submitted yet: " + plain(" ".join(invalid.problems)), ICONS["error"])
        return
    except (QueueError, PermissionDenied, ValueError) as error:
        flash(("error", plain(error)))
        return
    st.session_state.pop(PROBLEMS, None)
    st.session_state[UNDO] = (submitted.id, clip_id, clip_name)
    st.session_state[TOAST] = (f"Submitted {plain(clip_name)}.", ICONS["success"])
    autosave_forget(clip_id)
    clue_editor.forget_form(clip_id)
    load_progress.clear()


def do_skip(user_id: int, clip_id: int, clip_name: str) -> None:
    reason = st.session_state.get(skip_reason_key(clip_id))
    if reason is None:
        flash(("error", "Choose why you skip this clip first."))
        return
    try:
        user = annotate.get_user(user_id=user_id)
        annotate.skip(user=user, clip_id=clip_id, reason=reason,
                  note=st.session_state.get(skip_note_key(clip_id), "") or "", seconds_spent=seconds_spent(clip_id))
    except (QueueError, PermissionDenied) as error:
        flash(("error", plain(error)))
        return
    flash(("info", f"Skipped {plain(clip_name)} ({annotate.SKIP_REASONS[reason].lower()})."))
    st.session_state.pop(PROBLEMS, None)
    st.session_state.pop(UNDO, None)
    autosave_forget(clip_id)
    clue_editor.forget_form(clip_id)
    load_progress.clear()


def do_undo(user_id: int, annotation_id: int, clip_id: int, clip_name: str) -> None:
    """Take the latest submission back: it becomes a draft and its clip is shown again."""
    st.session_state.pop(UNDO, None)
    try:
        annotate.undo_submit(user=annotate.get_user(user_id=user_id), annotation_id=annotation_id)
    except (QueueError, PermissionDenied) as error:
        flash(("error", f"Not taken back: {plain(error)}"))
        return
    clue_editor.forget_form(clip_id)  # reloaded from the draft, with its time so far
    st.session_state.pop(PROBLEMS, None)
    flash(("info", f"{plain(clip_name)} is a draft again: change what you need and submit it."))
    load_progress.clear()


def flash(message: tuple[str, str]) -> None:
    """A message for the next draw: beside the buttons, and as a toast."""
    st.session_state[FLASH] = message
    st.session_state[TOAST] = (message[1], ICONS[message[0]])


@st.cache_data(ttl=30, show_spinner=False)
def load_progress(user_id: int, dataset_id: int) -> annotate.Progress:
    return annotate.progress(user=annotate.get_user(user_id=user_id), dataset_id=dataset_id)


# --- page ----------------------------------------------------------------------------------


def show_messages(user_id: int) -> None:
    """What the last action said, where the annotator is looking: under the buttons, and as a toast."""
    toast = st.session_state.pop(TOAST, None)
    if toast:
        st.toast(toast[0], icon=toast[1])
    message = st.session_state.pop(FLASH, None)
    if message:
        kind, text = message
        {"success": st.success, "error": st.error, "info": st.info}[kind](text)
    problems = st.session_state.get(PROBLEMS)
    if problems:
        st.error("Not submitted yet:\n\n" + "\n".join(f"- {plain(p)}" for p in problems))
    undo = st.session_state.get(UNDO)
    if undo:
        annotation_id, clip_id, clip_name = undo
        said, take_back = st.columns([5, 1], vertical_alignment="center")
        said.success(f"Submitted {plain(clip_name)}.")
        take_back.button("Undo", key="undo_submit", width="stretch", on_click=do_undo,
                         args=(user_id, annotation_id, clip_id, clip_name),
                         help="Take the submission back: it becomes a draft and the clip is shown again")


def show_progress(user_id: int, dataset_id: int) -> None:
    stats = load_progress(user_id, dataset_id)
    done, skipped, remaining, median = st.columns(4)
    done.metric("Done today", stats.done_today)
    skipped.metric("Skipped today", stats.skipped_today)
    remaining.metric("Remaining in queue", stats.remaining)
    median.metric("Median time per clip", f"{stats.median_seconds:.0f} s" if stats.median_seconds is not None else "–")


def choose_dataset(datasets) -> int | None:
    if not datasets:
        st.info("There is no dataset to annotate yet.")
        return None
    ids = [d.id for d in datasets]
    if st.session_state.get(DATASET) not in ids:
        st.session_state[DATASET] = ids[0]
    if len(datasets) > 1:
        names = {d.id: d.name for d in datasets}
        st.selectbox("Dataset", ids, key=DATASET, format_func=names.get)
    return st.session_state[DATASET]


def render_task(user_id: int, task: annotate.Task) -> None:
    clip, dataset, prediction = task.clip, task.dataset, task.prediction
    save = lambda: autosave(user_id, clip.id)  # noqa: E731 - a widget callback
    seed_form(task)

    lease = f" · yours until {when(task.lease_expires_at, '%H:%M %Z')}" if task.lease_expires_at else ""
    duration = f" · {clip.duration:.1f} s" if clip.duration else ""
    st.subheader(plain(clip.name))
    if st.session_state.get(f"restored_{clip.id}"):
        draft = " · draft restored"
    elif task.annotation is not None:
        draft = f" · draft saved {when(task.annotation.updated_at, '%H:%M:%S %Z')}"
    else:
        draft = ""
    st.caption(f"{plain(dataset.name)}{duration}{lease}{draft}")

    media, choices = st.columns([3, 2], gap="medium")
    with media:
        st.fragment(player)(clip, data_dir=get_settings().data_dir, spans=prediction.spans if prediction else [],
                            key="player")
    with choices:
        shortcuts = {}
        if dataset.label_set:
            shortcuts = st.fragment(emotion_picker.emotion_picker)(
                clip_id=clip.id, label_set=list(dataset.label_set), open_vocabulary=dataset.open_vocabulary,
                suggestion=prediction.emotion if prediction else None,
                distribution=dict(prediction.distribution or {}) if prediction else {}, on_change=save,
                with_word_set=dataset.open_vocabulary)
        if dataset.open_vocabulary:
            st.fragment(emotion_words.emotion_words_picker)(clip_id=clip.id, model_words=task.model_words(),
                                                             on_change=save)
        shortcuts.update(st.fragment(rating.rating_picker)(clip_id=clip.id, on_change=save))
        st.fragment(rating.confidence_picker)(clip_id=clip.id, on_change=save)

    st.markdown("#### Clues" + ("" if prediction else " · no model prediction for this clip"))
    st.fragment(clue_editor.clue_editor)(clip_id=clip.id, model_clues=task.model_clues(), on_change=save)
    if prediction is not None:
        clue_flags.quality_flags(clue_flags.prediction_quality(prediction_id=prediction.id, consistency=False))
        clue_flags.model_self_check(spans=prediction.spans, uncertainty=prediction.uncertainty)
    st.text_area("Note (optional)", key=clue_editor.note_key(clip.id), on_change=save, height=68)

    submit_col, reason_col, note_col, skip_col = st.columns([3, 2, 2, 2], vertical_alignment="bottom")
    with submit_col:
        st.button("Submit and next (Ctrl+Enter)", key="submit", type="primary", width="stretch",
                  on_click=do_submit, args=(user_id, clip.id, clip.name))
    with reason_col:
        st.selectbox("Skip reason", list(annotate.SKIP_REASONS), key=skip_reason_key(clip.id), index=None,
                     format_func=annotate.SKIP_REASONS.get, placeholder="Why skip?")
    with note_col:
        st.text_input("Skip note", key=skip_note_key(clip.id), placeholder="Required for “other”")
    with skip_col:
        st.button("Skip (Alt+K)", key="skip", width="stretch", on_click=do_skip,
                  args=(user_id, clip.id, clip.name))
    show_messages(user_id)
    keys, previous = st.columns([7, 2], vertical_alignment="center")
    keys.caption("Keys: Alt+1…9 emotion · Alt+Q/W/E/R rating 1–4 · Ctrl+Enter submit · Alt+K skip · Alt+P play/pause")
    previous.button("← Previous clip", key="previous_clip", width="stretch", on_click=previous_clip.open_previous,
                    help="Your latest submissions: change them until the clip is adjudicated")
    keyboard_shortcuts({"submit": "ctrl+enter", "skip": "alt+k", **shortcuts})


def main() -> None:
    user = guard("pages/annotate.py")
    st.title("Annotate")
    datasets = annotate.datasets_for(user=user)
    dataset_id = choose_dataset(datasets)
    if dataset_id is None:
        return
    if previous_clip.is_open():
        previous_clip.previous_clip(user, dataset_id)
        return
    task = annotate.load_task(user=user, dataset_id=dataset_id)
    show_progress(user.id, dataset_id)
    if task is None:
        show_messages(user.id)
        st.success("Nothing left for you in this dataset. Thank you!")
        st.button("← Previous clip", key="previous_clip", on_click=previous_clip.open_previous)
        return
    render_task(user.id, task)


main()
