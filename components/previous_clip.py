"""Annotate's "Previous clip": the annotator's latest submissions, editable until the clip is adjudicated.

A save carries the version the form was loaded from (optimistic locking, as on
"My work"): if the row changed meanwhile the save is refused and the stored
version can be loaded. Adjudicated clips are shown read-only with the reason.
"""

from __future__ import annotations

import streamlit as st

from annotation.labelling import annotate
from annotation.labelling.queue import QueueError
from annotation.permissions import PermissionDenied
from components import clue_editor, emotion_picker, emotion_words, rating
from components.player import player
from components.shortcuts import shortcuts
from components.text import plain
from core.settings import get_settings

OPEN = "annotate_previous_open"
PICK = "annotate_previous_pick"
FLASH = "annotate_previous_flash"
STALE = "annotate_previous_stale"
LIMIT = 10
ICONS = {"success": ":material/check_circle:", "error": ":material/warning:", "info": ":material/info:"}


def form_id(annotation_id: int) -> str:
    return f"prev{annotation_id}"


def version_key(annotation_id: int) -> str:
    return f"prev_version_{annotation_id}"


def open_previous() -> None:
    st.session_state[OPEN] = True
    st.session_state.pop(PICK, None)  # start from the newest submission


def close_previous() -> None:
    for key in (OPEN, PICK, FLASH, STALE):
        st.session_state.pop(key, None)


def is_open() -> bool:
    return bool(st.session_state.get(OPEN))


def _forget(annotation_id: int) -> None:
    clue_editor.forget_form(form_id(annotation_id))
    st.session_state.pop(version_key(annotation_id), None)


def save(user_id: int, annotation_id: int) -> None:
    try:
        saved = annotate.edit_submission(user=annotate.get_user(user_id=user_id), annotation_id=annotation_id,
                                         expected_version=st.session_state[version_key(annotation_id)],
                                         values=clue_editor.form_values(form_id(annotation_id)))
    except annotate.StaleEdit as stale:
        st.session_state[STALE] = annotation_id
        st.session_state[FLASH] = ("error", plain(stale))
        return
    except annotate.InvalidAnnotation as invalid:
        st.session_state[FLASH] = ("error", "Not saved:\n\n" + "\n".join(f"- {plain(p)}" for p in invalid.problems))
        return
    except (QueueError, PermissionDenied) as error:
        st.session_state[FLASH] = ("error", f"Not saved: {plain(error)}")
        return
    st.session_state.pop(STALE, None)
    st.session_state[version_key(annotation_id)] = saved.version
    st.session_state[FLASH] = ("success", f"Saved (version {saved.version}).")


def reload_saved(annotation_id: int) -> None:
    """Drop the form; the stored version is loaded on the next draw."""
    _forget(annotation_id)
    st.session_state.pop(STALE, None)
    st.session_state[FLASH] = ("info", "Loaded the saved version.")


def _messages(annotation_id: int) -> None:
    flash = st.session_state.pop(FLASH, None)
    if flash:
        kind, message = flash
        {"success": st.success, "error": st.error, "info": st.info}[kind](message)
        st.toast(message if kind != "error" else message.split("\n\n")[0], icon=ICONS[kind])
    if st.session_state.get(STALE) == annotation_id:
        st.button("Load the saved version (your changes here are dropped)", key="previous_reload",
                  on_click=reload_saved, args=(annotation_id,))


def previous_clip(user, dataset_id: int) -> None:  # noqa: ANN001 - db.models.User
    """Draw the editor of one of the user's latest submissions in the dataset."""
    st.button("← Back to the queue", key="back_to_queue", on_click=close_previous)
    rows = annotate.recent_submissions(user=user, dataset_id=dataset_id, limit=LIMIT)
    if not rows:
        st.info("You have not submitted anything in this dataset yet.")
        return
    by_id = {r.annotation.id: r for r in rows}
    if st.session_state.get(PICK) not in by_id:
        st.session_state[PICK] = rows[0].annotation.id
    if len(rows) > 1:
        st.selectbox("Your latest submissions (newest first)", list(by_id), key=PICK,
                     format_func=lambda i: plain(by_id[i].clip.name) + ("" if by_id[i].editable else " · adjudicated"))
    row = by_id[st.session_state[PICK]]
    annotation_id, fid = row.annotation.id, form_id(row.annotation.id)
    task = annotate.load_clip_task(user=user, clip_id=row.clip.id)
    if not clue_editor.is_seeded(fid) or version_key(annotation_id) not in st.session_state:
        clue_editor.seed_form(fid, annotate.AnnotationInput.from_annotation(task.annotation))
        st.session_state[version_key(annotation_id)] = task.annotation.version

    st.subheader(f"Previous: {plain(row.clip.name)}")
    submitted = f"submitted {row.annotation.submitted_at:%Y-%m-%d %H:%M} UTC · " if row.annotation.submitted_at else ""
    st.caption(f"{plain(task.dataset.name)} · {submitted}version {st.session_state[version_key(annotation_id)]}")
    disabled = not row.editable
    if row.adjudicated:
        st.info("This clip has been adjudicated: its annotations are final and can no longer be edited.")
    prediction = task.prediction
    media, choices = st.columns([3, 2], gap="medium")
    with media:
        player(task.clip, data_dir=get_settings().data_dir, spans=prediction.spans if prediction else [],
               key="player")
    keys: dict[str, str] = {}
    with choices:
        if task.dataset.label_set:
            keys.update(emotion_picker.emotion_picker(
                clip_id=fid, label_set=list(task.dataset.label_set), open_vocabulary=task.dataset.open_vocabulary,
                suggestion=prediction.emotion if prediction else None,
                distribution=dict(prediction.distribution or {}) if prediction else {}, on_change=lambda: None,
                disabled=disabled, with_word_set=task.dataset.open_vocabulary))
        if task.dataset.open_vocabulary:
            emotion_words.emotion_words_picker(clip_id=fid, model_words=task.model_words(), on_change=lambda: None,
                                               disabled=disabled)
        keys.update(rating.rating_picker(clip_id=fid, on_change=lambda: None, disabled=disabled))
        rating.confidence_picker(clip_id=fid, on_change=lambda: None, disabled=disabled)
    st.markdown("#### Clues")
    clue_editor.clue_editor(clip_id=fid, model_clues=task.model_clues(), on_change=lambda: None, disabled=disabled)
    st.text_area("Note (optional)", key=clue_editor.note_key(fid), height=68, disabled=disabled)
    st.button("Save changes (Ctrl+Enter)", key="previous_save", type="primary", disabled=disabled, on_click=save,
              args=(user.id, annotation_id))
    _messages(annotation_id)
    if not disabled:
        shortcuts({"previous_save": "ctrl+enter", **keys})
