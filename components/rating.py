"""The EMER 1–4 reasoning rating (with its words) and a 1–5 confidence."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from core.vocabulary import REASONING_RATINGS

RATING_SHORTCUTS = {1: "alt+q", 2: "alt+w", 3: "alt+e", 4: "alt+r"}
CONFIDENCE_LEVELS = {1: "1 · guess", 2: "2", 3: "3", 4: "4", 5: "5 · sure"}


def rating_key(clip_id: int | str) -> str:
    return f"rating_{clip_id}"


def confidence_key(clip_id: int | str) -> str:
    return f"confidence_{clip_id}"


def button_key(value: int) -> str:
    return f"rate_{value}"


def _rate(clip_id: int | str, value: int, on_change: Callable[[], None]) -> None:
    st.session_state[rating_key(clip_id)] = value
    on_change()


def rating_picker(*, clip_id: int | str, on_change: Callable[[], None], disabled: bool = False) -> dict[str, str]:
    """Four buttons; returns {button key: shortcut}."""
    chosen = st.session_state.get(rating_key(clip_id))
    st.markdown("**How good is the model's reasoning?** (required)")
    columns = st.columns(2) + st.columns(2)
    for value, column in zip(REASONING_RATINGS, columns, strict=False):
        with column:
            st.button(f"{value} · {REASONING_RATINGS[value]}", key=button_key(value), on_click=_rate,
                      args=(clip_id, value, on_change), type="primary" if chosen == value else "secondary",
                      width="stretch", disabled=disabled, help=RATING_SHORTCUTS[value].title())
    return {button_key(v): s for v, s in RATING_SHORTCUTS.items()}


def confidence_picker(*, clip_id: int | str, on_change: Callable[[], None], disabled: bool = False) -> None:
    st.radio("Your confidence", options=list(CONFIDENCE_LEVELS), key=confidence_key(clip_id),
             format_func=CONFIDENCE_LEVELS.get, horizontal=True, on_change=on_change, disabled=disabled)
