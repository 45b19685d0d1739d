"""Sign-in sessions (one row per signed-in browser) and sign-in attempts (for throttling)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, delete, func, select, update

from db.models import SignInAttempt, SignInSession, User


def add_session(session: Session, *, user_id: int, token_hash: str, now: datetime, expires_at: datetime,
                user_agent: str = "", client: str = "") -> SignInSession:
    row = SignInSession(user_id=user_id, token_hash=token_hash, created_at=now, last_seen_at=now,
                        expires_at=expires_at, user_agent=user_agent[:256], client=client[:128])
    session.add(row)
    session.flush()
    return row


def live_session(session: Session, *, token_hash: str, now: datetime) -> tuple[SignInSession, User] | None:
    """The unrevoked, unexpired session with this token and its active user, in one query."""
    return session.exec(
        select(SignInSession, User).join(User, col(User.id) == SignInSession.user_id)
        .where(SignInSession.token_hash == token_hash, col(SignInSession.revoked_at).is_(None),
               SignInSession.expires_at > now, col(User.active).is_(True))
    ).first()


def get_session(session: Session, *, token_hash: str) -> SignInSession | None:
    return session.exec(select(SignInSession).where(SignInSession.token_hash == token_hash)).first()


def touch(session: Session, *, session_id: int, now: datetime) -> None:
    session.exec(update(SignInSession).where(col(SignInSession.id) == session_id).values(last_seen_at=now))


def mark_cookie_set(session: Session, *, session_id: int, now: datetime) -> bool:
    """Record that the cookie was handed over; False when it already was (a hand-off code works once)."""
    result = session.exec(update(SignInSession)
                          .where(col(SignInSession.id) == session_id, col(SignInSession.cookie_set_at).is_(None))
                          .values(cookie_set_at=now))
    return result.rowcount == 1


def revoke(session: Session, *, token_hash: str, now: datetime, reason: str) -> int:
    result = session.exec(update(SignInSession)
                          .where(SignInSession.token_hash == token_hash, col(SignInSession.revoked_at).is_(None))
                          .values(revoked_at=now, revoke_reason=reason))
    return result.rowcount


def revoke_user_sessions(session: Session, *, user_id: int, now: datetime, reason: str,
                         keep_token_hash: str | None = None) -> int:
    """End every live session of a user (but `keep_token_hash`); returns how many."""
    query = update(SignInSession).where(SignInSession.user_id == user_id, col(SignInSession.revoked_at).is_(None))
    if keep_token_hash is not None:
        query = query.where(SignInSession.token_hash != keep_token_hash)
    return session.exec(query.values(revoked_at=now, revoke_reason=reason)).rowcount


def user_sessions(session: Session, *, user_id: int) -> Sequence[SignInSession]:
    return session.exec(select(SignInSession).where(SignInSession.user_id == user_id)
                        .order_by(col(SignInSession.id))).all()


# --- attempts -------------------------------------------------------------------------------


def add_attempt(session: Session, *, username: str, client: str, succeeded: bool, now: datetime) -> None:
    session.add(SignInAttempt(username=username[:64], client=client[:128], succeeded=succeeded, at=now))
    session.flush()


def failure_times(session: Session, *, since: datetime, username: str | None = None, client: str | None = None,
                  exclude_clients: Sequence[str] = ()) -> list[datetime]:
    """Times of failed attempts after `since` (oldest first), for a name, a client, or both."""
    query = select(SignInAttempt.at).where(SignInAttempt.at > since, col(SignInAttempt.succeeded).is_(False))
    if username is not None:
        query = query.where(SignInAttempt.username == username)
    if client is not None:
        query = query.where(SignInAttempt.client == client)
    if exclude_clients:
        query = query.where(col(SignInAttempt.client).not_in(list(exclude_clients)))
    return list(session.exec(query.order_by(col(SignInAttempt.at))).all())


def last_success(session: Session, *, username: str, client: str) -> datetime | None:
    return session.exec(select(func.max(SignInAttempt.at)).where(
        SignInAttempt.username == username, SignInAttempt.client == client,
        col(SignInAttempt.succeeded).is_(True))).one()


def trusted_clients(session: Session, *, username: str, since: datetime) -> list[str]:
    """Clients that signed in to this account after `since`."""
    return list(session.exec(select(SignInAttempt.client).distinct().where(
        SignInAttempt.username == username, SignInAttempt.at > since, col(SignInAttempt.succeeded).is_(True))).all())


def forget_attempts_before(session: Session, *, before: datetime) -> None:
    session.exec(delete(SignInAttempt).where(SignInAttempt.at < before))
