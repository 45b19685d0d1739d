"""The served web app: Streamlit's ASGI `st.App` around app.py, plus two routes that set and
clear the session cookie from the server, so it can be HttpOnly (JavaScript cannot read it).

`cluelab serve` runs `streamlit run cluelab/web.py`; plain `streamlit run app.py` works too,
and then the browser writes the cookie itself (not HttpOnly). See README "Security".

After signing in, the page hands the browser a short-lived single-use code
(`annotation.sessions.handoff_code`); the browser posts it here and gets the cookie back.
Both routes accept only same-origin JSON posts, so another site cannot sign a visitor in
or out (a cross-site JSON post needs a CORS preflight, which nothing here answers).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import streamlit as st
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from annotation import sessions
from components.session import CLEAR_ROUTE, SERVER_COOKIES_ENV, SET_ROUTE

ROOT = Path(__file__).resolve().parent.parent


def _same_origin_json(request: Request) -> bool:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return False
    origin = request.headers.get("origin")
    hosts = {request.headers.get("host"), request.headers.get("x-forwarded-host")}
    return bool(origin) and urlsplit(origin).netloc in hosts - {None}


def _https(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"


async def set_session_cookie(request: Request) -> Response:
    if not _same_origin_json(request):
        return PlainTextResponse("refused: not a same-origin JSON request", status_code=403)
    try:
        code = (await request.json()).get("code") or ""
    except (ValueError, AttributeError):
        return PlainTextResponse("refused: bad request", status_code=400)
    token = await run_in_threadpool(sessions.redeem_handoff, code=str(code))
    if token is None:
        return PlainTextResponse("refused: the sign-in code is invalid, used or expired", status_code=403)
    response = Response(status_code=204)
    response.set_cookie(sessions.COOKIE_NAME, token, max_age=sessions.cookie_max_age(), path="/",
                        secure=_https(request), httponly=True, samesite="strict")
    return response


async def clear_session_cookie(request: Request) -> Response:
    if not _same_origin_json(request):
        return PlainTextResponse("refused: not a same-origin JSON request", status_code=403)
    token = request.cookies.get(sessions.COOKIE_NAME)
    if token:
        await run_in_threadpool(sessions.end_session, token=token)
    response = Response(status_code=204)
    response.delete_cookie(sessions.COOKIE_NAME, path="/", secure=_https(request), httponly=True, samesite="strict")
    return response


ROUTES = [
    Route(SET_ROUTE, set_session_cookie, methods=["POST"]),
    Route(CLEAR_ROUTE, clear_session_cookie, methods=["POST"]),
]

# The page code runs in this process: tell it the server can set HttpOnly cookies.
os.environ[SERVER_COOKIES_ENV] = "1"
sessions.signing_secret()  # refuse a placeholder secret before serving anyone
app = st.App(str(ROOT / "app.py"), routes=ROUTES)
