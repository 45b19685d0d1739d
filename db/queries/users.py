"""Accounts: create, authenticate, change roles and passwords. Passwords are argon2 hashes.

Names are looked up whatever their case (a unique index on lower(username) backs it).
The password and name policy lives in `annotation.accounts`; this floor keeps only what
storage needs (a name, a minimal password length).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlmodel import Session, col, func, select

from core.vocabulary import Role
from db.models import User

MIN_PASSWORD_LENGTH = 8


class AccountError(ValueError):
    """A request about accounts that cannot be honoured (duplicate name, weak password, ...)."""


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def _clean_roles(roles: Iterable[Role | str]) -> list[str]:
    try:
        cleaned = sorted({Role(r).value for r in roles})
    except ValueError as error:
        raise AccountError(f"unknown role: {error}") from None
    if not cleaned:
        raise AccountError("a user needs at least one role")
    return cleaned


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")


def get_user(session: Session, *, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_user_by_name(session: Session, *, username: str) -> User | None:
    return session.exec(select(User).where(func.lower(User.username) == username.strip().lower())).first()


def list_users(session: Session) -> Sequence[User]:
    return session.exec(select(User).order_by(User.username)).all()


def create_user(
    session: Session, *, username: str, password: str, roles: Iterable[Role | str], display_name: str = ""
) -> User:
    username = username.strip()
    if not username:
        raise AccountError("a username is required")
    if get_user_by_name(session, username=username):
        raise AccountError(f"the username {username!r} is taken")
    _check_password(password)
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=_hasher().hash(password),
        roles=_clean_roles(roles),
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, *, username: str, password: str) -> User | None:
    """The active user whose password matches, else None (same answer for unknown names)."""
    user = get_user_by_name(session, username=username)
    if user is None or not user.active:
        # Spend the same work as a real check so timing does not reveal which names exist.
        _hasher().hash(password)
        return None
    try:
        _hasher().verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = _hasher().hash(password)
        session.add(user)
    return user


def set_roles(session: Session, *, user: User, roles: Iterable[Role | str]) -> User:
    user.roles = _clean_roles(roles)
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, *, user: User, password: str) -> User:
    _check_password(password)
    user.password_hash = _hasher().hash(password)
    session.add(user)
    session.flush()
    return user


def set_active(session: Session, *, user: User, active: bool) -> User:
    user.active = active
    session.add(user)
    session.flush()
    return user


def users_by_id(session: Session, *, user_ids: Iterable[int]) -> dict[int, User]:
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    return {u.id: u for u in session.exec(select(User).where(col(User.id).in_(ids)))}


def users_with_roles(session: Session, *, roles: Sequence[str]) -> list[User]:
    """Active users holding any of `roles` (roles are a JSON list, so filter here)."""
    wanted = set(roles)
    return [u for u in session.exec(select(User).where(User.active).order_by(User.id))
            if wanted & set(u.roles)]
