"""Account management as domain actions: each checks that the actor is an admin."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence

from sqlmodel import Session

from annotation.permissions import require
from core.vocabulary import Role
from db.models import User
from db.queries import audit
from db.queries import users as user_queries
from db.queries.users import AccountError

__all__ = ["AccountError", "create_account", "list_accounts", "reset_password", "set_account_active", "set_account_roles"]


def list_accounts(session: Session, *, actor: User | None) -> Sequence[User]:
    require(actor, Role.admin, action="listing accounts")
    return user_queries.list_users(session)


def create_account(session: Session, *, actor: User | None, username: str, password: str,
                   roles: Iterable[Role | str], display_name: str = "") -> User:
    require(actor, Role.admin, action="creating accounts")
    user = user_queries.create_user(session, username=username, password=password, roles=roles,
                                    display_name=display_name)
    audit.record(session, user=actor, action="create_user", entity="user", entity_id=user.id,
                 detail={"roles": user.roles})
    return user


def set_account_roles(session: Session, *, actor: User | None, user_id: int, roles: Iterable[Role | str]) -> User:
    require(actor, Role.admin, action="changing roles")
    user = _get(session, user_id)
    roles = list(roles)
    if user.id == actor.id and Role.admin.value not in {Role(r).value for r in roles}:  # type: ignore[union-attr]
        raise AccountError("you cannot remove your own admin role")
    user_queries.set_roles(session, user=user, roles=roles)
    audit.record(session, user=actor, action="set_roles", entity="user", entity_id=user.id, detail={"roles": user.roles})
    return user


def reset_password(session: Session, *, actor: User | None, user_id: int, password: str | None = None) -> str:
    """Set a new password (random when none is given) and return it, to show once."""
    require(actor, Role.admin, action="resetting passwords")
    user = _get(session, user_id)
    password = password or secrets.token_urlsafe(9)
    user_queries.set_password(session, user=user, password=password)
    audit.record(session, user=actor, action="reset_password", entity="user", entity_id=user.id)
    return password


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
