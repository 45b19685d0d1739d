"""Optimistic locking: a write names the version it read; a stale write is refused, never merged."""

from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from db.models import utcnow

Row = TypeVar("Row", bound=SQLModel)


class StaleEdit(Exception):
    """Someone saved this row after you read it. `current` is their version (a detached copy), for showing both."""

    def __init__(self, current: Any, expected_version: int):
        self.current = current
        self.expected_version = expected_version
        what = type(current).__name__.lower() if current is not None else "item"
        now = getattr(current, "version", None) if current is not None else "deleted"
        super().__init__(
            f"This {what} was changed elsewhere (changed by someone else or in another tab: you edited version "
            f"{expected_version}, it is now version {now}). Your edit was not saved.")


def update_versioned(session: Session, model: type[Row], row_id: int, *, expected_version: int,
                     changes: dict[str, Any]) -> Row:
    """Apply `changes` only if the row is still at `expected_version`; bump the version.

    One UPDATE ... WHERE id = :id AND version = :expected RETURNING *, so two writers cannot both win.
    """
    values = {**changes, "version": model.version + 1}  # type: ignore[attr-defined]
    if "updated_at" in model.model_fields:
        values["updated_at"] = utcnow()
    updated = session.scalars(
        sa.update(model)
        .where(model.id == row_id, model.version == expected_version)  # type: ignore[attr-defined]
        .values(**values)
        .returning(model),
        execution_options={"populate_existing": True, "synchronize_session": False},
    ).first()
    if updated is None:
        current = session.scalars(
            select(model).where(model.id == row_id).execution_options(populate_existing=True)  # type: ignore[attr-defined]
        ).first()
        # A detached copy: the caller rolls back, which would expire the loaded row.
        raise StaleEdit(model.model_validate(current.model_dump()) if current else None, expected_version)
    return updated
