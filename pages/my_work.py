"""My work: the annotator's own submissions; editable until the clip is adjudicated.

An edit carries the version it started from; if the row changed meanwhile (another
tab, another device) the save is refused and both versions are shown.
"""

from __future__ import annotations

import streamlit as st

from annotation.labelling import annotate
from annotation.labelling.outcomes import my_outcomes
from annotation.labelling.queue import QueueError
from annotation.permissions import PermissionDenied
from components import clue_editor, emotion_picker, emotion_words, rating
from components.diff_view import diff_html
from components.navigation import guard
from components.player import player
from components.text import plain
from core.settings import get_settings
from core.vocabulary import ASPECTS, REASONING_RATINGS

PICK = "my_work_pick"
CONFLICT = "my_work_conflict"
FLASH = "my_work_flash"


def form_id(annotation_id: int) -> str:
    return f"edit{annotation_id}"


def version_key(annotation_id: int) -> str:
    return f"edit_version_{annotation_id}"


def load_into_form(annotation) -> None:  # noqa: ANN001 - db.models.Annotation
    fid = form_id(annotation.id)
    clue_editor.forget_form(fid)
    clue_editor.seed_form(fid, annotate.AnnotationInput.from_annotation(annotation))
    st.session_state[version_key(annotation.id)] = annotation.version


def save_edit(user_id: int, annotation_id: int, expected_version: int | None = None) -> None:
    expected = expected_version if expected_version is not None else st.session_state[version_key(annotation_id)]
    try:
        user = annotate.get_user(user_id=user_id)
        saved = annotate.edit_submission(user=user, annotation_id=annotation_id, expected_version=expected,
                                     values=clue_editor.form_values(form_id(annotation_id)))
    except annotate.StaleEdit as stale:
        current = stale.current
        st.session_state[CONFLICT] = {
            "annotation_id": annotation_id, "message": plain(stale),
            "version": current.version if current else None,
            "values": annotate.AnnotationInput.from_annotation(current).values() if current else None,
        }
        return
    except annotate.InvalidAnnotation as invalid:
        st.session_state[FLASH] = ("error", "Not saved:\n\n" + "\n".join(f"- {plain(p)}" for p in invalid.problems))
        return
    except (QueueError, PermissionDenied) as error:
        st.session_state[FLASH] = ("error", plain(error))
        return
    st.session_state.pop(CONFLICT, None)
    st.session_state[version_key(annotation_id)] = saved.version
    st.session_state[FLASH] = ("success", f"Saved (version {saved.version}).")


def take_saved(annotation_id: int) -> None:
    """Discard the form and load the version that is stored now."""
    conflict = st.session_state.pop(CONFLICT, None)
    if conflict and conflict["values"]:
        fid = form_id(annotation_id)
        clue_editor.forget_form(fid)
        clue_editor.seed_form(fid, annotate.AnnotationInput(**conflict["values"]))
        st.session_state[version_key(annotation_id)] = conflict["version"]


def show_values(values: dict) -> None:
    emotion = ", ".join(values.get("emotion_words") or []) or values.get("emotion_other") or values.get("emotion") or "–"
    rated = values.get("rating")
    st.markdown(f"**Emotion:** {plain(emotion)} · **Rating:** "
                f"{f'{rated} ({REASONING_RATINGS[rated]})' if rated else '–'}")
    for aspect in ASPECTS:
        text = "no evidence" if aspect.value in values.get("no_evidence", []) else values["clues"].get(aspect.value, "")
        st.markdown(f"**{aspect.title}:** {plain(text or '–')}")


def show_conflict(user_id: int, annotation_id: int) -> None:
    conflict = st.session_state.get(CONFLICT)
    if not conflict or conflict["annotation_id"] != annotation_id:
        return
    st.error(conflict["message"])
    if conflict["values"] is None:
        return
    with st.container(border=True):
        st.markdown(f"##### Saved version (version {conflict['version']})")
        show_values(conflict["values"])
    st.caption("Your version is still in the form below. Keep yours, or take the saved one.")
    keep, take = st.columns(2)
    keep.button(f"Keep mine (replace version {conflict['version']})", key="conflict_keep", on_click=save_edit,
                args=(user_id, annotation_id, conflict["version"]), width="stretch")
    take.button("Take the saved version", key="conflict_take", on_click=take_saved, args=(annotation_id,),
                width="stretch")


def render_editor(user, row: annotate.WorkRow) -> None:  # noqa: ANN001
    annotation = row.annotation
    fid = form_id(annotation.id)
    task = annotate.load_clip_task(user=user, clip_id=row.clip.id)
    if not clue_editor.is_seeded(fid) or version_key(annotation.id) not in st.session_state:
        load_into_form(task.annotation)
    show_conflict(user.id, annotation.id)
    media, choices = st.columns([3, 2], gap="medium")
    with media:
        player(task.clip, data_dir=get_settings().data_dir, spans=task.prediction.spans if task.prediction else [],
               key="player")
    with choices:
        if task.dataset.label_set:
            emotion_picker.emotion_picker(
                clip_id=fid, label_set=list(task.dataset.label_set), open_vocabulary=task.dataset.open_vocabulary,
                suggestion=task.prediction.emotion if task.prediction else None,
                distribution=dict(task.prediction.distribution or {}) if task.prediction else {},
                on_change=lambda: None, with_word_set=task.dataset.open_vocabulary)
        if task.dataset.open_vocabulary:
            emotion_words.emotion_words_picker(clip_id=fid, model_words=task.model_words(), on_change=lambda: None)
        rating.rating_picker(clip_id=fid, on_change=lambda: None)
        rating.confidence_picker(clip_id=fid, on_change=lambda: None)
    clue_editor.clue_editor(clip_id=fid, model_clues=task.model_clues(), on_change=lambda: None)
    st.text_area("Note", key=clue_editor.note_key(fid), height=68)
    st.button("Save changes", key="save_edit", type="primary", on_click=save_edit, args=(user.id, annotation.id))


OUTCOME = "my_work_outcome"


def show_outcomes(user) -> None:  # noqa: ANN001
    """Your emotion and clues against the consensus, on your own clips that were adjudicated."""
    outcomes = my_outcomes(user=user)
    if not outcomes:
        return
    st.subheader("After adjudication")
    agreed = sum(o.agreed for o in outcomes)
    st.caption(f"Your emotion matched the consensus on {agreed} of {len(outcomes)} adjudicated clip(s).")
    st.dataframe([{"Clip": o.clip_name, "Your emotion": o.yours, "Consensus emotion": o.consensus,
                   "Same": "yes" if o.agreed else "no"} for o in outcomes],
                 hide_index=True, width="stretch", key="my_work_outcomes")
    by_id = {o.clip_id: o for o in outcomes}
    if st.session_state.get(OUTCOME) not in by_id:
        st.session_state[OUTCOME] = next(iter(by_id))
    st.selectbox("Compare your clues with the consensus on", list(by_id), key=OUTCOME,
                 format_func=lambda i: by_id[i].clip_name)
    chosen = by_id[st.session_state[OUTCOME]]
    st.caption("The consensus clue, marked against yours: words it added in green, words of yours it left out "
               "struck through in red.")
    titles = {aspect.value: aspect.title for aspect in ASPECTS}
    for aspect, (mine, theirs) in chosen.clues.items():
        yours_html = plain(mine) if mine.strip() else "<em>(none)</em>"
        st.markdown(f"**{plain(titles.get(aspect, aspect))}**  \nYours: {yours_html}  \n"
                    f"Consensus: {diff_html(mine, theirs)}", unsafe_allow_html=True)
    st.divider()


def main() -> None:
    user = guard("pages/my_work.py")
    st.title("My work")
    flash = st.session_state.pop(FLASH, None)
    if flash:
        {"success": st.success, "error": st.error}[flash[0]](flash[1])
    rows = annotate.my_work(user=user)
    if not rows:
        st.info("You have not submitted anything yet.")
        return
    st.dataframe(
        [{
            "Clip": r.clip.name,
            "Status": r.annotation.status,
            "Emotion": ", ".join(r.annotation.emotion_words or []) or r.annotation.emotion_other
            or r.annotation.emotion or "",
            "Rating": r.annotation.rating,
            "Seconds": round(r.annotation.seconds_spent),
            "Submitted (UTC)": f"{r.annotation.submitted_at:%Y-%m-%d %H:%M}" if r.annotation.submitted_at else "",
            "Editable": "yes" if r.editable else ("adjudicated" if r.adjudicated else "no"),
        } for r in rows],
        hide_index=True, width="stretch",
    )
    show_outcomes(user)
    editable = {r.annotation.id: r for r in rows if r.editable}
    if not editable:
        st.caption("Nothing to edit: adjudicated clips and skips are final.")
        return
    if st.session_state.get(PICK) not in editable:
        st.session_state[PICK] = next(iter(editable))
    st.selectbox("Edit a submission", list(editable), key=PICK, format_func=lambda i: editable[i].clip.name)
    render_editor(user, editable[st.session_state[PICK]])


main()
