"""Sign-in sessions: a signed, expiring token per browser that the server can revoke.

The cookie holds `itsdangerous`-signed random bytes; the database holds only their
SHA-256 beside the user, expiry, user agent and revocation. A token works while its
signature is good, its row is unrevoked and unexpired, and its user is active, so
signing out, a password change or deactivation ends it at once on every server process.

The signing secret comes from `CLUELAB_SECRET_KEY`, or is generated once into
`<data dir>/secret_key`; outside development a short or well-known secret is refused.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from itsdangerous import BadData, URLSafeTimedSerializer
from sqlmodel import Session

from core.settings import Settings, get_settings
from core.vocabulary import RevokeReason
from db.engine import unit_of_work, with_session
from db.models import User, utcnow
from db.queries import audit
from db.queries import sessions as session_queries

COOKIE_NAME = "cluelab_session"
# A hand-off code lets the server set the HttpOnly cookie once, shortly after sign-in.
HANDOFF_SECONDS = 120
# last_seen_at is written at most this often, so a page run stays a read.
TOUCH_EVERY = timedelta(minutes=1)
MIN_SECRET_LENGTH = 32
KNOWN_WEAK_SECRETS = frozenset({"", "changeme", "change-me", "change_me", "secret", "dev", "development",
                                "cluelab", "password", "default", "insecure", "test"})
_SESSION_SALT = "cluelab.session"
_HANDOFF_SALT = "cluelab.cookie-handoff"


class SecretKeyRefused(RuntimeError):
    """The configured secret key is a placeholder or too short to sign sessions outside development."""


def signing_secret(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    if settings.secret_key is not None:
        secret = settings.secret_key.get_secret_value()
        if not settings.dev and (secret.strip().lower() in KNOWN_WEAK_SECRETS or len(secret) < MIN_SECRET_LENGTH):
            raise SecretKeyRefused(
                f"CLUELAB_SECRET_KEY is a placeholder or shorter than {MIN_SECRET_LENGTH} characters; set a random one "
                "(python -c 'import secrets; print(secrets.token_urlsafe(48))'), unset it to have one generated "
                "into the data directory, or set CLUELAB_DEV=1 on a development machine")
        return secret
    return _secret_in(settings.data_dir)


@lru_cache(maxsize=8)
def _secret_in(data_dir: Path) -> str:
    """The data directory's secret, generated on first use (O_EXCL: concurrent first starts agree on one)."""
    path = data_dir / "secret_key"
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process may be writing it this instant
            secret = path.read_text(encoding="utf-8").strip()
            if secret:
                return secret
            time.sleep(0.02)
        raise SecretKeyRefused(f"{path} is empty: delete it to have a new secret generated") from None
    secret = secrets.token_urlsafe(48)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(secret)
    return secret


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing_secret(), salt=salt)


def _hash(token_id: str) -> str:
    return hashlib.sha256(token_id.encode()).hexdigest()


def cookie_max_age() -> int:
    return int(get_settings().session_days * 86400)


def _token_id(token: str | None, *, max_age: int | None) -> str | None:
    if not token:
        return None
    try:
        value = _serializer(_SESSION_SALT).loads(token, max_age=max_age)
    except BadData:
        return None
    return value if isinstance(value, str) else None


def issue_token(session: Session, *, user: User, client: str = "", user_agent: str = "",
                now: datetime | None = None) -> str:
    """Open a session for `user` inside the caller's unit of work; returns the cookie value."""
    now = now or utcnow()
    token_id = secrets.token_urlsafe(32)
    session_queries.add_session(session, user_id=int(user.id), token_hash=_hash(token_id), now=now,
                                expires_at=now + timedelta(days=get_settings().session_days),
                                user_agent=user_agent, client=client)
    return _serializer(_SESSION_SALT).dumps(token_id)


def revoke_all(session: Session, *, user_id: int, reason: RevokeReason, now: datetime | None = None,
               keep_token: str | None = None) -> int:
    """End every live session of a user inside the caller's unit of work (but `keep_token`'s)."""
    keep = _token_id(keep_token, max_age=None)
    return session_queries.revoke_user_sessions(session, user_id=user_id, now=now or utcnow(), reason=reason.value,
                                                keep_token_hash=_hash(keep) if keep else None)


@unit_of_work
def _touch(session: Session, *, session_id: int, now: datetime) -> None:
    session_queries.touch(session, session_id=session_id, now=now)


@with_session
def resume(session: Session, *, token: str | None, now: datetime | None = None) -> User | None:
    """The active user a cookie value signs in, or None (bad signature, expired, revoked, deactivated)."""
    token_id = _token_id(token, max_age=cookie_max_age())
    if token_id is None:
        return None
    now = now or utcnow()
    found = session_queries.live_session(session, token_hash=_hash(token_id), now=now)
    if found is None:
        return None
    row, user = found
    if now - row.last_seen_at >= TOUCH_EVERY:
        _touch(session, session_id=int(row.id), now=now)
    return user


@unit_of_work
def end_session(session: Session, *, token: str | None, now: datetime | None = None) -> bool:
    """Sign out: revoke this token (whatever its age) and record it; False when it was not live."""
    token_id = _token_id(token, max_age=None)
    if token_id is None:
        return False
    row = session_queries.get_session(session, token_hash=_hash(token_id))
    if row is None or not session_queries.revoke(session, token_hash=row.token_hash, now=now or utcnow(),
                                                 reason=RevokeReason.signed_out.value):
        return False
    audit.record(session, user=session.get(User, row.user_id), action="sign_out", entity="user",
                 entity_id=row.user_id, detail={"session_id": row.id})
    return True


def handoff_code(token: str) -> str:
    """A short-lived code the browser trades, once, for the HttpOnly cookie holding `token`."""
    return _serializer(_HANDOFF_SALT).dumps(token)


@unit_of_work
def redeem_handoff(session: Session, *, code: str, now: datetime | None = None) -> str | None:
    """The token to set as the cookie, or None when the code is bad, old, used, or its session is over."""
    try:
        token = _serializer(_HANDOFF_SALT).loads(code, max_age=HANDOFF_SECONDS)
    except BadData:
        return None
    token_id = _token_id(token, max_age=cookie_max_age()) if isinstance(token, str) else None
    if token_id is None:
        return None
    now = now or utcnow()
    found = session_queries.live_session(session, token_hash=_hash(token_id), now=now)
    if found is None or not session_queries.mark_cookie_set(session, session_id=int(found[0].id), now=now):
        return None
    return token


@with_session
def sessions_of(session: Session, *, user_id: int):  # noqa: ANN201
    """Every session row of a user, oldest first (for tests and an admin's view)."""
    return session_queries.user_sessions(session, user_id=user_id)
