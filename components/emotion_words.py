"""Open-vocabulary emotion words: a set typed with autocomplete from the emotion-wheel vocabulary.

Any word may be added (st.multiselect with `accept_new_options`); words the wheel does not know are
listed as "not on the wheel", since the official EW metric drops them. The model's set is shown beside
it, to take over with one click.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st

from annotation.evaluation.word_sets import clean_words, on_wheel, show_category, wheel_vocabulary


def words_key(clip_id: int | str) -> str:
    return f"emotion_words_{clip_id}"


def _options(chosen: Sequence[str], extra: Sequence[str]) -> list[str]:
    vocabulary = wheel_vocabulary()
    known = set(vocabulary)
    # Words typed earlier (or proposed by the model) that the wheel lacks must stay selectable.
    return [*sorted({w for w in [*chosen, *extra] if w not in known}), *vocabulary]


def not_on_wheel(words: Sequence[str]) -> list[str]:
    return [w for w in words if not on_wheel(w)]


def word_badges(words: Sequence[str]) -> str:
    """Markdown for a set of words, each unknown word marked."""
    if not words:
        return "—"
    return ", ".join(f"**{w}**" if on_wheel(w) else f"**{w}** (not on the wheel)" for w in words)


def _use_model(clip_id: int | str, words: list[str], on_change: Callable[[], None]) -> None:
    st.session_state[words_key(clip_id)] = list(words)
    on_change()


def emotion_words_picker(*, clip_id: int | str, model_words: Sequence[str], on_change: Callable[[], None],
                         disabled: bool = False, label: str = "Emotion words (open vocabulary)") -> list[str]:
    """Render the set editor; the value lives in session_state under `words_key(clip_id)`."""
    key = words_key(clip_id)
    chosen = clean_words(st.session_state.get(key) or [])
    st.session_state[key] = chosen
    model_words = clean_words(model_words)
    st.multiselect(label, _options(chosen, model_words), key=key, on_change=on_change, accept_new_options=True,
                   select_all=False, disabled=disabled, placeholder="Type an emotion word…",
                   help="Any words. Suggestions come from the emotion-wheel vocabulary that the MER2025/2026 "
                        "EW metric scores; a word it does not know is kept but marked.")
    unknown = not_on_wheel(st.session_state.get(key) or [])
    if unknown:
        st.caption("Not on the wheel (the EW metric will drop them): " + ", ".join(unknown))
    if model_words:
        left, right = st.columns([4, 1], vertical_alignment="center")
        left.caption("Model's words: " + word_badges(model_words))
        right.button("Use", key=f"use_model_words_{clip_id}", on_click=_use_model,
                     args=(clip_id, model_words, on_change), disabled=disabled or chosen == model_words,
                     help="Replace the set with the model's words")
    return list(st.session_state.get(key) or [])


def category_votes(votes, *, n_annotators: int, metric: str) -> None:  # noqa: ANN001 - CategoryVote list
    """The proposed set's reasoning: each wheel category, how many annotators reached it, the raw words."""
    wheel, _, level = metric.partition("/")
    st.caption(f"Proposed set: the categories more than half of the {n_annotators} annotators reached on "
               f"{wheel.replace('wheel', 'wheel ')}, {level.replace('level', 'level ')}; the most written word of each.")
    st.dataframe([{"category": show_category(v.category), "annotators": v.supporters,
                   "raw words": ", ".join(f"{w} ×{n}" for w, n in v.raw_words.items()),
                   "proposed word": v.word if v.majority else "", "majority": v.majority} for v in votes],
                 hide_index=True, width="stretch")
