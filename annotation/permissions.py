"""Role checks for domain functions that write. A hidden page is not a permission."""

from __future__ import annotations

from collections.abc import Iterable

from core.vocabulary import Role
from db.models import User


class PermissionDenied(PermissionError):
    """The user lacks every role that the action allows."""


def has_role(user: User | None, *roles: Role | str) -> bool:
    if user is None or not user.active:
        return False
    held = set(user.roles)
    return Role.admin.value in held or any(Role(r).value in held for r in roles)


def require(user: User | None, *roles: Role | str, action: str = "this") -> User:
    """Return the user when they hold one of `roles` (admins hold all), else raise."""
    if not has_role(user, *roles):
        who = user.username if user else "nobody"
        wanted = " or ".join(Role(r).value for r in roles)
        raise PermissionDenied(f"{who} may not do {action}: needs the {wanted} role")
    return user  # type: ignore[return-value]


def roles_of(user: User | None) -> Iterable[Role]:
    return [Role(r) for r in (user.roles if user else [])]


COMMAND_LINE_USERNAME = "cli"


def command_line_actor() -> User:
    """The command line is trusted like an admin (whoever runs it owns the data directory); never saved."""
    return User(username=COMMAND_LINE_USERNAME, password_hash="!", roles=[Role.admin.value])


def is_command_line(user: User | None) -> bool:
    return user is not None and user.id is None and user.username == COMMAND_LINE_USERNAME \
        and Role.admin.value in user.roles
