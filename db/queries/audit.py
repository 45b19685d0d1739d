"""The audit log: who did what to which row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from db.models import AuditLog, User


def record(session: Session, *, user: User | None, action: str, entity: str = "", entity_id: int | None = None,
           detail: dict[str, Any] | None = None) -> AuditLog:
    detail = dict(detail or {})
    if user is not None and user.id is None:  # the command line acts as an unsaved admin: keep its name
        detail.setdefault("actor", user.username)
    entry = AuditLog(user_id=user.id if user else None, action=action, entity=entity, entity_id=entity_id,
                     detail=detail)
    session.add(entry)
    return entry


# --- reading the log ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    user_id: int | None = None
    action: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def _where(query, wanted: AuditFilter):  # noqa: ANN001, ANN202 - a select
    if wanted.user_id is not None:
        query = query.where(AuditLog.user_id == wanted.user_id)
    if wanted.action:
        query = query.where(AuditLog.action == wanted.action)
    if wanted.since is not None:
        query = query.where(AuditLog.at >= wanted.since)
    if wanted.until is not None:
        query = query.where(AuditLog.at < wanted.until)
    return query


def entries(session: Session, *, wanted: AuditFilter, limit: int, offset: int = 0) -> list[tuple[AuditLog, str | None]]:
    """One page of the log, newest first, with the acting user's name (None for the system or the command line).

    Newest first is by id, the primary key: ids grow with time, so the ORDER BY walks the
    key backwards and stops after `offset + limit` matching rows; names are looked up for
    that page alone (a join would make PostgreSQL hash every row first).
    """
    query = _where(select(AuditLog), wanted).order_by(col(AuditLog.id).desc()).limit(limit).offset(offset)
    rows = list(session.exec(query).all())
    ids = {row.user_id for row in rows if row.user_id is not None}
    names = dict(session.exec(select(User.id, User.username).where(col(User.id).in_(ids))).all()) if ids else {}
    return [(row, names.get(row.user_id)) for row in rows]


def count(session: Session, *, wanted: AuditFilter) -> int:
    return int(session.exec(_where(select(func.count()).select_from(AuditLog), wanted)).one())


def actions(session: Session) -> list[str]:
    """Every action the log holds, for a filter's choices."""
    return sorted(session.exec(select(AuditLog.action).distinct()).all())
