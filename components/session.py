"""Who is signed in. The user id lives in session_state; the row is read fresh each run."""

from __future__ import annotations

import streamlit as st
from sqlmodel import Session

from db.engine import get_engine
from db.models import User
from db.queries import users as user_queries

USER_KEY = "user_id"


def current_user() -> User | None:
    user_id = st.session_state.get(USER_KEY)
    if user_id is None:
        return None
    with Session(get_engine(), expire_on_commit=False) as session:
        user = user_queries.get_user(session, user_id=user_id)
    if user is None or not user.active:
        st.session_state.pop(USER_KEY, None)
        return None
    return user


def sign_in(username: str, password: str) -> User | None:
    with Session(get_engine(), expire_on_commit=False) as session:
        user = user_queries.authenticate(session, username=username, password=password)
        session.commit()
    if user is not None:
        st.session_state[USER_KEY] = user.id
    return user


def sign_out() -> None:
    for key in list(st.session_state.keys()):
        del st.session_state[key]


def db_session() -> Session:
    """A session for one page run; use as a context manager."""
    return Session(get_engine(), expire_on_commit=False)
