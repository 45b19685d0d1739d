"""Side-by-side clue comparison with word-level differences highlighted.

Text always goes through `components.text.plain` before it is wrapped in highlight spans,
so clue text can never inject Markdown or HTML.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from annotation.text import word_diff
from components.text import plain

_STYLE = {
    "added": "background:#d4f7d4;text-decoration:none;",
    "removed": "background:#fbd5d5;text-decoration:line-through;",
}


def diff_html(before: str, after: str) -> str:
    """HTML for `after` with words added since `before` in green and removed ones struck through in red."""
    if not before.strip():
        return plain(after) if after.strip() else "<em>(empty)</em>"
    out = []
    for part in word_diff(before, after):
        # Each run keeps its original text and the whitespace before it, so numbers ("0.52") and units stay whole.
        lead = " " if part.lead and out else ""
        text = plain(part.text)
        if part.op == "same":
            out.append(lead + text)
        else:
            tag = "ins" if part.op == "added" else "del"
            out.append(f'{lead}<{tag} style="{_STYLE[part.op]}">{text}</{tag}>')
    return "".join(out) if out else "<em>(empty)</em>"


def render_clue_comparison(rows: Sequence[tuple[str, str]], model_text: str, *, max_columns: int = 6) -> None:
    """The model's clue and each annotator's (label, text) side by side, annotators diffed against the model.

    Beyond `max_columns` cells the comparison is stacked, one line each, to stay readable.
    """
    model_html = plain(model_text) if model_text.strip() else "<em>(no clue)</em>"
    cells = [("Model", model_html)] + [(label, diff_html(model_text, text)) for label, text in rows]
    if len(cells) > max_columns:
        for label, body in cells:
            st.markdown(f"**{plain(label)}:** {body}", unsafe_allow_html=True)
        return
    for column, (label, body) in zip(st.columns(len(cells)), cells, strict=False):
        column.markdown(f"**{plain(label)}**<br>{body}", unsafe_allow_html=True)
