"""Who is signed in. The user id lives in session_state; the account is read fresh each run."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from annotation import accounts

if TYPE_CHECKING:
    from db.models import User

USER_KEY = "user_id"


def current_user() -> User | None:
    user = accounts.active_user(user_id=st.session_state.get(USER_KEY))
    if user is None:
        st.session_state.pop(USER_KEY, None)
    return user


def sign_in(username: str, password: str) -> User | None:
    user = accounts.authenticate(username=username, password=password)
    if user is not None:
        st.session_state[USER_KEY] = user.id
    return user


def sign_out() -> None:
    for key in list(st.session_state.keys()):
        del st.session_state[key]
