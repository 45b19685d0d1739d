"""Imported systems' labels and reasoning for a clip, in every language the source has."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from components.text import plain
from core.vocabulary import ASPECTS

if TYPE_CHECKING:
    from db.models import Reference

LANGUAGE_NAMES = {"en": "English", "zh": "中文"}


def _reasoning(text: str, clues: dict[str, str], language: str | None) -> None:
    if text:
        st.markdown(plain(text))
    filled = [(aspect, clues.get(aspect.value, "")) for aspect in ASPECTS if clues.get(aspect.value)]
    for aspect, clue in filled:
        st.markdown(f"- **{aspect.title_in(language or 'en')}**: {plain(clue)}")


def show_references(references: list[Reference]) -> None:
    """One expander per source; a source with two languages shows both side by side."""
    for reference in references:
        label = plain(reference.source + (f" · {reference.emotion}" if reference.emotion else ""))
        with st.expander(label):
            versions = [(reference.language, reference.reasoning, reference.clues)]
            versions += [(language, other.get("reasoning", ""), other.get("clues", {}))
                         for language, other in (reference.translations or {}).items()]
            columns = st.columns(len(versions))
            for column, (language, text, clues) in zip(columns, versions, strict=False):
                with column:
                    if len(versions) > 1:
                        st.caption(plain(LANGUAGE_NAMES.get(language or "", language or "")))
                    _reasoning(text, clues or {}, language)
            if reference.spans:
                st.caption("Grounded at " + ", ".join(
                    f"{span.get('start', 0):.1f} s" + (f" ({plain(span['label'])})" if span.get("label") else "")
                    for span in reference.spans))
