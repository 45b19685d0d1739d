"""The audit log: who did what to which row."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

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
