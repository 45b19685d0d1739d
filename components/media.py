"""Media helpers for pages: absolute paths under the data directory, thumbnails as data URIs."""

from __future__ import annotations

import base64
from pathlib import Path

import streamlit as st

from components.text import plain
from core.settings import get_settings
from core.vocabulary import ClipStatus


def media_path(relative: str | None) -> Path | None:
    """The file for a path stored relative to the data directory, if it exists."""
    if not relative:
        return None
    path = get_settings().data_dir / relative
    return path if path.exists() else None


@st.cache_data(ttl=3600, max_entries=5000, show_spinner=False)
def thumbnail_uri(relative: str | None) -> str | None:
    path = media_path(relative)
    if path is None:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode()


def show_clip_media(clip, *, spans: list | None = None, key: str = "clip_player") -> None:  # noqa: ANN001
    """The player (video or audio, waveform, clickable transcript), or a plain word on why there is none."""
    from components.player import player

    if clip.status == ClipStatus.error.value:
        st.error(f"This clip's media could not be processed: {plain(clip.error)}")
    elif clip.status in (ClipStatus.pending.value, ClipStatus.processing.value):
        st.info("This clip's media is still being processed.")
    elif media_path(clip.video_path) is None and media_path(clip.audio_path) is None and clip.video_path:
        st.error("This clip's media files are missing from the data directory.")
    else:
        # Text-only clips get the transcript alone; the player says so itself.
        player(clip, data_dir=get_settings().data_dir, spans=spans or [], key=key)
