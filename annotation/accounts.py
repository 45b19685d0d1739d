"""Accounts: the name and password policy, signing in (throttled, with a revocable session),
the signed-in user, and management by admins (each write checks the actor's role).

Policy (README "Security"): usernames are 3–32 of a–z, 0–9, ".", "_" and "-", stored lower
case and unique whatever the case; display names are at most 64 characters with no control
characters; passwords have at least 10 characters and a zxcvbn score of at least 2 (of 4),
judged against the user's own name, so "password", "12345678", spaces or the username fail.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session
from zxcvbn import zxcvbn

from annotation import sessions, throttle
from annotation.permissions import PermissionDenied, require
from core.vocabulary import RevokeReason, Role, SignInRefusal
from db.engine import unit_of_work, with_session
from db.models import User, utcnow
from db.queries import audit
from db.queries import users as user_queries
from db.queries.users import AccountError

__all__ = ["AccountError", "SignInResult", "active_user", "authenticate", "change_own_password", "check_display_name",
           "check_password", "create_account", "find_account", "generate_password", "list_accounts",
           "normalise_username", "reset_password", "set_account_active", "set_account_roles", "sign_in",
           "users_by_id"]

USERNAME_RULE = re.compile(r"[a-z0-9._-]{3,32}")
DISPLAY_NAME_MAX = 64
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
MIN_PASSWORD_SCORE = 2  # zxcvbn: 0 too guessable … 4 very unguessable
# zxcvbn's cost grows with length; the first 100 characters decide.
_SCORED_PREFIX = 100
# Bidirectional embeddings, overrides and isolates can make a name read as another.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


# --- policy ---------------------------------------------------------------------------------


def normalise_username(username: str) -> str:
    """The stored form of a new username (lower case), or AccountError saying what is allowed."""
    name = username.strip().lower()
    if not USERNAME_RULE.fullmatch(name):
        raise AccountError("a username has 3–32 characters: letters a–z, digits, '.', '_' or '-'")
    return name


def check_display_name(display_name: str) -> str:
    name = display_name.strip()
    if len(name) > DISPLAY_NAME_MAX:
        raise AccountError(f"a display name has at most {DISPLAY_NAME_MAX} characters")
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in _BIDI_CONTROLS for c in name):
        raise AccountError("a display name cannot contain control characters or line breaks")
    return name


def check_password(password: str, *, username: str, display_name: str = "") -> None:
    """Refuse a password that is short or easy to guess; the error says why and what helps."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"passwords have at most {MAX_PASSWORD_LENGTH} characters")
    if username and password.strip().lower() == username.strip().lower():
        raise AccountError("a password cannot be the username")
    verdict = zxcvbn(password[:_SCORED_PREFIX], user_inputs=[u for u in (username, display_name, "cluelab") if u])
    if verdict["score"] < MIN_PASSWORD_SCORE:
        feedback = verdict.get("feedback") or {}
        hint = feedback.get("warning") or " ".join(feedback.get("suggestions") or [])
        raise AccountError("this password is too easy to guess" + (f": {hint}" if hint else "")
                           + " — a few unrelated words or a longer random string will do")


def generate_password(*, username: str = "") -> str:
    """A random password that passes the policy, to show once."""
    while True:
        password = secrets.token_urlsafe(12)
        try:
            check_password(password, username=username)
        except AccountError:
            continue
        return password


@with_session
def list_accounts(session: Session, *, actor: User | None) -> Sequence[User]:
    require(actor, Role.admin, action="listing accounts")
    return user_queries.list_users(session)


@unit_of_work
def create_account(session: Session, *, actor: User | None, username: str, password: str,
                   roles: Iterable[Role | str], display_name: str = "") -> User:
    require(actor, Role.admin, action="creating accounts")
    username = normalise_username(username)
    display_name = check_display_name(display_name)
    check_password(password, username=username, display_name=display_name)
    user = user_queries.create_user(session, username=username, password=password, roles=roles,
                                    display_name=display_name)
    audit.record(session, user=actor, action="create_user", entity="user", entity_id=user.id,
                 detail={"roles": user.roles})
    return user


@unit_of_work
def set_account_roles(session: Session, *, actor: User | None, user_id: int, roles: Iterable[Role | str]) -> User:
    require(actor, Role.admin, action="changing roles")
    user = _get(session, user_id)
    roles = list(roles)
    if user.id == actor.id and Role.admin.value not in {Role(r).value for r in roles}:  # type: ignore[union-attr]
        raise AccountError("you cannot remove your own admin role")
    user_queries.set_roles(session, user=user, roles=roles)
    audit.record(session, user=actor, action="set_roles", entity="user", entity_id=user.id, detail={"roles": user.roles})
    return user


@unit_of_work
def reset_password(session: Session, *, actor: User | None, user_id: int, password: str | None = None) -> str:
    """Set a new password (random when none is given) and return it, to show once; the user's sessions end."""
    require(actor, Role.admin, action="resetting passwords")
    user = _get(session, user_id)
    if password:
        check_password(password, username=user.username, display_name=user.display_name)
    else:
        password = generate_password(username=user.username)
    user_queries.set_password(session, user=user, password=password)
    ended = sessions.revoke_all(session, user_id=int(user.id), reason=RevokeReason.password_changed)
    audit.record(session, user=actor, action="reset_password", entity="user", entity_id=user.id,
                 detail={"sessions_ended": ended})
    return password


@unit_of_work
def set_account_active(session: Session, *, actor: User | None, user_id: int, active: bool) -> User:
    require(actor, Role.admin, action="activating accounts")
    user = _get(session, user_id)
    if user.id == actor.id and not active:  # type: ignore[union-attr]
        raise AccountError("you cannot deactivate your own account")
    user_queries.set_active(session, user=user, active=active)
    ended = 0 if active else sessions.revoke_all(session, user_id=int(user.id), reason=RevokeReason.deactivated)
    audit.record(session, user=actor, action="set_active", entity="user", entity_id=user.id,
                 detail={"active": active, "sessions_ended": ended})
    return user


def _get(session: Session, user_id: int) -> User:
    user = user_queries.get_user(session, user_id=user_id)
    if user is None:
        raise AccountError(f"no user with id {user_id}")
    return user


@unit_of_work
def authenticate(session: Session, *, username: str, password: str) -> User | None:
    """The active user with this name and password, else None (a stale hash is upgraded on the way)."""
    return user_queries.authenticate(session, username=username, password=password)


@with_session
def active_user(session: Session, *, user_id: int | None) -> User | None:
    """The account behind a signed-in id, or None when it is gone or deactivated."""
    if user_id is None:
        return None
    user = user_queries.get_user(session, user_id=user_id)
    return user if user is not None and user.active else None


@with_session
def users_by_id(session: Session, *, user_ids: Iterable[int]) -> dict[int, User]:
    """Accounts by id, for showing names beside work."""
    return user_queries.users_by_id(session, user_ids=user_ids)


@with_session
def find_account(session: Session, *, username: str) -> User | None:
    return user_queries.get_user_by_name(session, username=username)


# --- signing in -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SignInResult:
    user: User | None = None
    token: str | None = None  # the session cookie's value
    refusal: SignInRefusal | None = None
    retry_after: float = 0.0  # seconds, when refused for now

    @property
    def message(self) -> str:
        """What the person signing in reads (the same for unknown names and wrong passwords)."""
        if self.refusal is None:
            return ""
        if self.refusal == SignInRefusal.wrong_credentials:
            return "Wrong username or password."
        wait = _duration(self.retry_after)
        if self.refusal == SignInRefusal.slow_down:
            return f"Too many wrong passwords: wait {wait} before the next try."
        return f"Too many wrong passwords: signing in is locked for {wait}. Ask an admin if you forgot your password."


def _duration(seconds: float) -> str:
    seconds = max(1, round(seconds))
    return f"{seconds} s" if seconds < 90 else f"{-(-seconds // 60)} min"


@unit_of_work
def sign_in(session: Session, *, username: str, password: str, client: str, user_agent: str = "",
            now: datetime | None = None) -> SignInResult:
    """Check the throttle, then the password; on success open a session. Every outcome is audited."""
    now = now or utcnow()
    name = throttle.attempt_name(username)
    seen = {"username": name, "client": client}
    verdict = throttle.check(session, username=name, client=client, now=now)
    if not verdict.allowed:
        wait = verdict.retry_after(now)
        audit.record(session, user=None, action="sign_in_refused", entity="user",
                     detail={**seen, "reason": verdict.refusal.value, "scope": verdict.scope, "retry_after_s": wait})
        return SignInResult(refusal=verdict.refusal, retry_after=wait)
    user = user_queries.authenticate(session, username=username, password=password)
    throttle.record(session, username=name, client=client, succeeded=user is not None, now=now)
    if user is None:
        audit.record(session, user=None, action="sign_in_failed", entity="user", detail=seen)
        after = throttle.check(session, username=name, client=client, now=now)
        if after.refusal == SignInRefusal.locked:
            audit.record(session, user=None, action="sign_in_locked", entity="user",
                         detail={**seen, "scope": after.scope, "until": after.until.isoformat()})
        return SignInResult(refusal=SignInRefusal.wrong_credentials)
    token = sessions.issue_token(session, user=user, client=client, user_agent=user_agent, now=now)
    audit.record(session, user=user, action="sign_in", entity="user", entity_id=user.id, detail={"client": client})
    return SignInResult(user=user, token=token)


@unit_of_work
def change_own_password(session: Session, *, actor: User | None, current_password: str, new_password: str,
                        client: str, user_agent: str = "", now: datetime | None = None) -> str:
    """A signed-in user changes their password: every session of theirs ends, and this browser gets a new
    one (its cookie value is returned). Wrong current passwords count toward the sign-in throttle."""
    if actor is None or actor.id is None:
        raise PermissionDenied("sign in to change your password")
    now = now or utcnow()
    name = throttle.attempt_name(actor.username)
    verdict = throttle.check(session, username=name, client=client, now=now)
    if not verdict.allowed:
        raise AccountError(SignInResult(refusal=verdict.refusal, retry_after=verdict.retry_after(now)).message)
    user = user_queries.authenticate(session, username=actor.username, password=current_password)
    if user is None or user.id != actor.id:
        throttle.record(session, username=name, client=client, succeeded=False, now=now)
        audit.record(session, user=actor, action="change_password_failed", entity="user", entity_id=actor.id)
        raise AccountError("your current password is not right")
    if new_password == current_password:
        raise AccountError("the new password is the same as the current one")
    check_password(new_password, username=user.username, display_name=user.display_name)
    user_queries.set_password(session, user=user, password=new_password)
    ended = sessions.revoke_all(session, user_id=int(user.id), reason=RevokeReason.password_changed, now=now)
    token = sessions.issue_token(session, user=user, client=client, user_agent=user_agent, now=now)
    audit.record(session, user=user, action="change_password", entity="user", entity_id=user.id,
                 detail={"sessions_ended": ended})
    return token
