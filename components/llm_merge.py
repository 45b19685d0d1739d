"""The LLM on the pages: its merged-clue proposal on Adjudicate, and its endpoint settings and check on Models."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from annotation.labelling.llm_merge import propose_llm_merge
from annotation.llm_client import LLMError, check_endpoint
from components.text import plain
from core.settings import get_settings


def _key(clip_id: int) -> str:
    return f"adjudicate.{clip_id}.llm_merge"


def ask_button(*, user: Any, clip_id: int, clues_by_aspect: Mapping[str, Sequence[str]], language: str) -> None:
    """A button that asks the configured LLM for merged clues (hidden when no endpoint is configured)."""
    settings = get_settings()
    if not (settings.openai_base_url or settings.openai_api_key):
        return
    if st.button("Propose merged clues with the LLM", key=f"{_key(clip_id)}.ask",
                 help=f"{settings.llm_model} summarises the annotators' clues per aspect (one subject, "
                      "no repetition, full sentences). A proposal only: you choose."):
        with st.spinner("Asking the LLM…"):
            try:
                st.session_state[_key(clip_id)] = propose_llm_merge(user=user, clues_by_aspect=clues_by_aspect,
                                                                    language=language)
            except LLMError as error:
                st.error(f"The LLM could not propose a merge: {error}")


def _take(text_key: str, text: str) -> None:
    st.session_state[text_key] = text


def proposal_for(*, clip_id: int, aspect: str, text_key: str) -> None:
    """The LLM's proposal for one aspect under its consensus box, with a button that copies it in."""
    merged = st.session_state.get(_key(clip_id))
    if merged is None:
        return
    if aspect in merged.errors:
        st.caption(f"LLM merge failed for this aspect: {plain(merged.errors[aspect])}")
    elif aspect in merged.clues:
        st.caption(f"LLM proposal: {plain(merged.clues[aspect])}")
        st.button("Use the LLM proposal", key=f"{_key(clip_id)}.{aspect}.use", on_click=_take,
                  args=(text_key, merged.clues[aspect]))


def llm_endpoint_panel() -> None:
    """The OpenAI-compatible endpoint's settings (never the key) and a button that checks it answers."""
    settings = get_settings()
    if settings.model_backend != "openai" and not settings.openai_base_url:
        return
    with st.expander(f"LLM endpoint · {settings.openai_base_url or 'api.openai.com'} · {settings.llm_model}"):
        st.dataframe([{"setting": k, "value": str(v)} for k, v in settings.llm_describe().items()],
                     hide_index=True, width="stretch")
        if st.button("Check the endpoint", key="models.llm_check"):
            try:
                st.success(check_endpoint(settings))
            except LLMError as error:
                st.error(str(error))
