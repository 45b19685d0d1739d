"""One-click emotion choice from the dataset's label set, with the model's suggestion and distribution."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from components.text import plain

OTHER = "other"
SHORTCUT_KEYS = [f"alt+{i}" for i in range(1, 10)]


def emotion_key(clip_id: int | str) -> str:
    return f"emotion_{clip_id}"


def other_key(clip_id: int | str) -> str:
    return f"emotion_other_{clip_id}"


def button_key(index: int) -> str:
    return f"emo_{index}"


def choices(label_set: list[str], open_vocabulary: bool, with_word_set: bool = False) -> list[str]:
    """The buttons: the label set, plus "other" for a typed word unless the open word set is shown."""
    if open_vocabulary and not with_word_set and OTHER not in label_set:
        return [*label_set, OTHER]
    return list(label_set)


def _choose(clip_id: int | str, label: str, on_change: Callable[[], None]) -> None:
    st.session_state[emotion_key(clip_id)] = label
    on_change()


def emotion_picker(*, clip_id: int | str, label_set: list[str], open_vocabulary: bool, suggestion: str | None,
                   distribution: dict[str, float], on_change: Callable[[], None],
                   disabled: bool = False, with_word_set: bool = False) -> dict[str, str]:
    """Render the picker; returns {button key: shortcut} for the keyboard map."""
    chosen = st.session_state.get(emotion_key(clip_id))
    st.markdown("**Emotion**")
    if suggestion:
        top = sorted(distribution.items(), key=lambda kv: -kv[1])[:4]
        spread = " · ".join(f"{plain(label)} {share:.0%}" for label, share in top)
        st.caption(f"Model suggests **{plain(suggestion)}**" + (f" ({spread})" if spread else ""))
    options = choices(label_set, open_vocabulary, with_word_set)
    shortcuts: dict[str, str] = {}
    per_row = 3
    for start in range(0, len(options), per_row):
        for offset, column in enumerate(st.columns(per_row)):
            index = start + offset
            if index >= len(options):
                break
            label = options[index]
            hint = f"Alt+{index + 1}" if index < len(SHORTCUT_KEYS) else None
            with column:
                st.button(plain(label), key=button_key(index), on_click=_choose, args=(clip_id, label, on_change),
                          type="primary" if chosen == label else "secondary", width="stretch",
                          disabled=disabled, help=hint)
            if index < len(SHORTCUT_KEYS):
                shortcuts[button_key(index)] = SHORTCUT_KEYS[index]
    if open_vocabulary and chosen == OTHER and OTHER in options:
        st.text_input("Other emotion", key=other_key(clip_id), on_change=on_change, max_chars=128, disabled=disabled)
    return shortcuts
