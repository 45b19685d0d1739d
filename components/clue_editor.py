"""Four-aspect clue editor: text areas prefilled from the model, a word diff under each,
"reset to model" and an explicit "no evidence in this aspect".

State lives in st.session_state under keys namespaced by clip id (see `keys`),
so moving to another clip starts from fresh widgets.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from annotation.labelling.annotate import AnnotationInput
from annotation.text import word_diff
from components import emotion_picker, emotion_words, rating
from components.text import plain
from core.vocabulary import ASPECTS, Aspect


def keys(clip_id: int | str, aspect: Aspect | str) -> tuple[str, str]:
    """(text key, no-evidence key) for one aspect of one clip."""
    value = aspect.value if isinstance(aspect, Aspect) else aspect
    return f"clue_{clip_id}_{value}", f"noev_{clip_id}_{value}"


def diff_markup(model_text: str, text: str) -> str:
    """HTML for the word diff of `text` against the model: <ins> added, <del> removed. All text escaped."""
    if not model_text.strip() and not text.strip():
        return "<span class='cl-diff-none'>No model clue and no text.</span>"
    if model_text.strip() == text.strip():
        return "<span class='cl-diff-none'>Unchanged from the model.</span>"
    out = ""
    for part in word_diff(model_text, text):
        # Runs keep their original text and leading whitespace: "AU12 0.52" never shows as "0. 52".
        chunk = plain(part.text)
        if part.op == "added":
            chunk = f"<ins style='background:#d3f9d8;text-decoration:none'>{chunk}</ins>"
        elif part.op == "removed":
            chunk = f"<del style='background:#ffe3e3'>{chunk}</del>"
        out += (" " if part.lead and out else "") + chunk
    return "Diff vs model: " + out


def clue_editor(*, clip_id: int | str, model_clues: dict[str, str], on_change: Callable[[], None],
                disabled: bool = False) -> None:
    """Render the four aspects in a 2×2 grid. Values must already be seeded in session_state."""
    rows = [ASPECTS[:2], ASPECTS[2:]]
    for row in rows:
        for column, aspect in zip(st.columns(2), row, strict=False):
            with column:
                _aspect_box(clip_id=clip_id, aspect=aspect, model_text=model_clues.get(aspect.value, ""),
                            on_change=on_change, disabled=disabled)


def _reset(clip_id: int | str, aspect: Aspect, model_text: str, on_change: Callable[[], None]) -> None:
    text_key, no_key = keys(clip_id, aspect)
    st.session_state[text_key] = model_text
    st.session_state[no_key] = False
    on_change()


def _aspect_box(*, clip_id: int | str, aspect: Aspect, model_text: str, on_change: Callable[[], None],
                disabled: bool) -> None:
    text_key, no_key = keys(clip_id, aspect)
    no_evidence = bool(st.session_state.get(no_key))
    st.text_area(aspect.title, key=text_key, height=110, on_change=on_change, help=aspect.describes,
                 disabled=disabled or no_evidence,
                 placeholder="No evidence marked" if no_evidence else f"Describe the {aspect.title.lower()} clues")
    left, right = st.columns([3, 2])
    with left:
        st.checkbox("No evidence in this aspect", key=no_key, on_change=on_change, disabled=disabled)
    with right:
        st.button("Reset to model", key=f"reset_{clip_id}_{aspect.value}", on_click=_reset,
                  args=(clip_id, aspect, model_text, on_change), disabled=disabled or not model_text,
                  width="stretch")
    if not no_evidence:
        diff = diff_markup(model_text, st.session_state.get(text_key, "") or "")
        st.markdown(f"<div class='cl-diff' style='font-size:0.8rem;margin-bottom:0.9rem'>{diff}</div>",
                    unsafe_allow_html=True)


# --- the whole annotation form's state (clues, emotion, rating, confidence, note) ---------


def note_key(clip_id: int | str) -> str:
    return f"note_{clip_id}"


def is_seeded(clip_id: int | str) -> bool:
    return keys(clip_id, ASPECTS[0])[0] in st.session_state


def seed_form(clip_id: int | str, values: AnnotationInput) -> None:
    """Put `values` into the form's widget state (before the widgets are drawn)."""
    for aspect in ASPECTS:
        text_key, no_key = keys(clip_id, aspect)
        st.session_state[text_key] = values.clues.get(aspect.value, "")
        st.session_state[no_key] = aspect.value in values.no_evidence
    st.session_state[emotion_picker.emotion_key(clip_id)] = values.emotion
    st.session_state[emotion_picker.other_key(clip_id)] = values.emotion_other or ""
    st.session_state[emotion_words.words_key(clip_id)] = list(values.emotion_words)
    st.session_state[rating.rating_key(clip_id)] = values.rating
    st.session_state[rating.confidence_key(clip_id)] = values.confidence
    st.session_state[note_key(clip_id)] = values.note


def form_values(clip_id: int | str) -> AnnotationInput:
    """The form as an AnnotationInput."""
    state = st.session_state
    clues, no_evidence = {}, []
    for aspect in ASPECTS:
        text_key, no_key = keys(clip_id, aspect)
        clues[aspect.value] = state.get(text_key, "") or ""
        if state.get(no_key):
            no_evidence.append(aspect.value)
    return AnnotationInput(
        clues=clues, no_evidence=no_evidence, emotion=state.get(emotion_picker.emotion_key(clip_id)),
        emotion_other=(state.get(emotion_picker.other_key(clip_id)) or "").strip() or None,
        emotion_words=list(state.get(emotion_words.words_key(clip_id)) or []),
        rating=state.get(rating.rating_key(clip_id)), confidence=state.get(rating.confidence_key(clip_id)),
        note=state.get(note_key(clip_id), "") or "",
    )


def forget_form(clip_id: int | str) -> None:
    """Drop every state key of this clip's form."""
    mine = [k for k in st.session_state if isinstance(k, str) and (k.endswith(f"_{clip_id}") or f"_{clip_id}_" in k)]
    for key in mine:
        del st.session_state[key]
