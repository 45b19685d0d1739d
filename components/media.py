"""Media helpers for pages: absolute paths under the data directory, thumbnails as data URIs."""

from __future__ import annotations

import base64
from pathlib import Path

import streamlit as st

from cluelab.settings import get_settings


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


def show_clip_media(clip) -> None:  # noqa: ANN001
    """Play a clip (video, audio-only) or say plainly that it has no media."""
    video = media_path(clip.video_path)
    if clip.status == "error":
        st.error(f"This clip's media could not be processed: {clip.error}")
    elif video is None:
        st.info("Text-only clip: no video or audio.")
    elif clip.has_video:
        st.video(str(video))
    else:
        st.audio(str(video))
