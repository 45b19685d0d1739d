"""Who is signed in, kept across reloads and tabs by a session cookie.

Signing in opens a server-side session (annotation.sessions) and puts its signed token in
`st.session_state` for this tab and in a SameSite=Strict cookie for the next page load, read
back with `st.context.cookies`. The cookie is written by the server (HttpOnly) when the app
runs under `cluelab serve` (cluelab/web.py), else by a few lines of JavaScript. Every run
checks the token, so signing out, a password change or deactivation ends it everywhere.
"""

from __future__ import annotations

import os
import secrets
from typing import TYPE_CHECKING, Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from annotation import accounts, sessions
from core.settings import get_settings

if TYPE_CHECKING:
    from db.models import User

USER_KEY = "user_id"
TOKEN_KEY = "session_token"
SIGNED_OUT_KEY = "signed_out"
COOKIE_TASK_KEY = "session_cookie_task"
SET_ROUTE = "/_cluelab/session"
CLEAR_ROUTE = "/_cluelab/sign-out"
SERVER_COOKIES_ENV = "CLUELAB_SERVER_COOKIES"

_JS = """
export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  if (!data || !data.nonce || parentElement._clDone === data.nonce) return;
  parentElement._clDone = data.nonce;
  const done = () => setTriggerValue('done', data.nonce);
  const secure = window.location.protocol === 'https:' ? '; Secure' : '';
  const write = (value, age) => {
    document.cookie = data.name + '=' + value + '; Path=/; Max-Age=' + age + '; SameSite=Strict' + secure;
  };
  if (data.route) {
    if (data.action === 'clear') write('', 0);
    fetch(data.route, { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' },
                        body: JSON.stringify({ code: data.code || '' }) }).finally(done);
    return;
  }
  if (data.action === 'set') write(data.token, data.max_age); else write('', 0);
  done();
}
"""
_COOKIE = st.components.v2.component("cluelab_session_cookie", js=_JS)


def _text(value: object) -> str:
    # Without a browser (AppTest) st.context answers with stand-ins, not strings.
    return value if isinstance(value, str) else ""


def _cookie() -> str:
    return _text(st.context.cookies.get(sessions.COOKIE_NAME))


def client_id() -> str:
    """Who is knocking, for sign-in throttling: the address where known, else this browser session."""
    if get_settings().trust_forwarded_for:
        forwarded = _text(st.context.headers.get("X-Forwarded-For"))
        if forwarded:
            return "ip:" + forwarded.split(",")[-1].strip()
    address = _text(st.context.ip_address)
    if address:
        return "ip:" + address
    ctx = get_script_run_ctx()
    return "session:" + (ctx.session_id if ctx else "unknown")


def _forget() -> None:
    st.session_state.pop(USER_KEY, None)
    st.session_state.pop(TOKEN_KEY, None)


def current_user() -> User | None:
    state = st.session_state
    token = state.get(TOKEN_KEY)
    if token is None and not state.get(SIGNED_OUT_KEY):
        token = _cookie()
    if token:
        user = sessions.resume(token=token)
        if user is None:
            _forget()
            if token == _cookie():
                # A dead cookie (signed out elsewhere, expired, revoked): drop it, and stop reading it in this
                # session, since st.context keeps the cookies the page was loaded with.
                state[SIGNED_OUT_KEY] = True
                state[COOKIE_TASK_KEY] = {"action": "clear"}
            return None
        state[TOKEN_KEY], state[USER_KEY] = token, user.id
        return user
    # A user id without a token is only ever put there by tests: AppTest cannot send cookies.
    user = accounts.active_user(user_id=state.get(USER_KEY))
    if user is None:
        state.pop(USER_KEY, None)
    return user


def _user_agent() -> str:
    return _text(st.context.headers.get("User-Agent"))[:256]


def _remember(user: User, token: str) -> None:
    state = st.session_state
    state[USER_KEY], state[TOKEN_KEY] = user.id, token
    state.pop(SIGNED_OUT_KEY, None)
    state[COOKIE_TASK_KEY] = {"action": "set", "token": token}


def sign_in(username: str, password: str) -> accounts.SignInResult:
    result = accounts.sign_in(username=username, password=password, client=client_id(), user_agent=_user_agent())
    if result.user is not None:
        _remember(result.user, result.token)
    return result


def change_password(user: User, current_password: str, new_password: str) -> None:
    """Change the signed-in user's password; other browsers are signed out, this one stays in."""
    token = accounts.change_own_password(actor=user, current_password=current_password, new_password=new_password,
                                         client=client_id(), user_agent=_user_agent())
    _remember(user, token)


def sign_out() -> None:
    sessions.end_session(token=st.session_state.get(TOKEN_KEY))
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.session_state[SIGNED_OUT_KEY] = True
    st.session_state[COOKIE_TASK_KEY] = {"action": "clear"}


def sync_cookie() -> None:
    """Write or clear the browser's session cookie when a sign-in or sign-out asked for it."""
    task: dict[str, Any] | None = st.session_state.get(COOKIE_TASK_KEY)
    if not task:
        return
    if "nonce" not in task:
        task["nonce"] = secrets.token_hex(8)
        if os.environ.get(SERVER_COOKIES_ENV) == "1" and task["action"] == "set":
            task["code"] = sessions.handoff_code(task.pop("token"))
    data = {"nonce": task["nonce"], "action": task["action"], "name": sessions.COOKIE_NAME,
            "max_age": sessions.cookie_max_age()}
    if os.environ.get(SERVER_COOKIES_ENV) == "1":
        data["route"] = SET_ROUTE if task["action"] == "set" else CLEAR_ROUTE
        data["code"] = task.get("code", "")
    elif task["action"] == "set":
        data["token"] = task["token"]
    result = _COOKIE(data=data, key="cluelab_session_cookie", on_done_change=lambda: None)
    if getattr(result, "done", None) == task["nonce"]:
        st.session_state.pop(COOKIE_TASK_KEY, None)
