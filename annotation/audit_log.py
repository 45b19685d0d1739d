"""Reading the audit log: who did what to which row, for leads and admins (the page and `cluelab audit`).

Every write records itself through `db.queries.audit.record` inside its own unit of
work; this module only reads, a page at a time, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlmodel import Session

from annotation.permissions import require
from core.vocabulary import Role
from db.engine import with_session
from db.models import User
from db.queries import audit as queries
from db.queries import users as user_queries
from db.queries.audit import AuditFilter

__all__ = ["AuditFilter", "AuditEntry", "AuditPage", "search", "actions", "people", "day_start", "MAX_PAGE"]

MAX_PAGE = 1000  # rows one request may ask for


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str  # the username; "cli" for the command line; "system" when nobody acted
    user_id: int | None
    action: str
    target: str  # "entity #id", or the entity alone
    entity: str
    entity_id: int | None
    detail: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at.isoformat(), "actor": self.actor, "user_id": self.user_id,
                "action": self.action, "entity": self.entity, "entity_id": self.entity_id, "target": self.target,
                "detail": self.detail}


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int  # rows matching the filter, on every page
    offset: int
    limit: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.limit))


def _entry(row: Any, username: str | None) -> AuditEntry:
    detail = dict(row.detail or {})
    actor = username or detail.get("actor") or "system"
    target = f"{row.entity} #{row.entity_id}" if row.entity_id is not None else (row.entity or "")
    return AuditEntry(id=row.id, at=row.at, actor=str(actor), user_id=row.user_id, action=row.action, target=target,
                      entity=row.entity or "", entity_id=row.entity_id, detail=detail)


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of `day`."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def day_after(day: date) -> datetime:
    """Midnight UTC at the end of `day` (an exclusive `until` that keeps the whole day)."""
    return day_start(day) + timedelta(days=1)


@with_session
def search(session: Session, *, user: User | None, wanted: AuditFilter | None = None, limit: int = 50,
           offset: int = 0, with_total: bool = True) -> AuditPage:
    """One page of the log, newest first (leads and admins)."""
    require(user, Role.lead, action="reading the audit log")
    wanted = wanted or AuditFilter()
    limit = max(1, min(int(limit), MAX_PAGE))
    offset = max(0, int(offset))
    rows = queries.entries(session, wanted=wanted, limit=limit, offset=offset)
    total = queries.count(session, wanted=wanted) if with_total else len(rows)
    return AuditPage(entries=[_entry(row, name) for row, name in rows], total=total, offset=offset, limit=limit)


@with_session
def actions(session: Session, *, user: User | None) -> list[str]:
    """The actions the log holds (choices for a filter)."""
    require(user, Role.lead, action="reading the audit log")
    return queries.actions(session)


@with_session
def people(session: Session, *, user: User | None) -> list[User]:
    """Every account, by name (choices for a filter)."""
    require(user, Role.lead, action="reading the audit log")
    return sorted(user_queries.list_users(session), key=lambda u: u.username.lower())
