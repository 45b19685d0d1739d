"""Accounts: signing in, the signed-in user, and management by admins (each write checks the actor's role)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence

from sqlmodel import Session

from annotation.permissions import require
from core.vocabulary import Role
from db.engine import unit_of_work, with_session
from db.models import User
from db.queries import audit
from db.queries import users as user_queries
from db.queries.users import AccountError

__all__ = ["AccountError", "active_user", "authenticate", "find_account", "create_account", "list_accounts", "reset_password",
           "set_account_active", "set_account_roles", "users_by_id"]


@with_session
def list_accounts(session: Session, *, actor: User | None) -> Sequence[User]:
    require(actor, Role.admin, action="listing accounts")
    return user_queries.list_users(session)


@unit_of_work
def create_account(session: Session, *, actor: User | None, username: str, password: str,
                   roles: Iterable[Role | str], display_name: str = "") -> User:
    require(actor, Role.admin, action="creating accounts")
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
    """Set a new password (random when none is given) and return it, to show once."""
    require(actor, Role.admin, action="resetting passwords")
    user = _get(session, user_id)
    password = password or secrets.token_urlsafe(9)
    user_queries.set_password(session, user=user, password=password)
    audit.record(session, user=actor, action="reset_password", entity="user", entity_id=user.id)
    return password


@unit_of_work
def set_account_active(session: Session, *, actor: User | None, user_id: int, active: bool) -> User:
    require(actor, Role.admin, action="activating accounts")
    user = _get(session, user_id)
    if user.id == actor.id and not active:  # type: ignore[union-attr]
        raise AccountError("you cannot deactivate your own account")
    user_queries.set_active(session, user=user, active=active)
    audit.record(session, user=actor, action="set_active", entity="user", entity_id=user.id, detail={"active": active})
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
