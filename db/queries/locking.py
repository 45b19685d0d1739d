"""Optimistic locking: a write names the version it read; a stale write is refused, never merged."""

from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from db.models import utcnow

Row = TypeVar("Row", bound=SQLModel)


class StaleEdit(Exception):
    """Someone saved this row after you read it. `current` is their version, for showing both."""

    def __init__(self, current: Any, expected_version: int):
        self.current = current
        self.expected_version = expected_version
        super().__init__(
            f"this item was changed by someone else (you edited version {expected_version}, "
            f"it is now at version {getattr(current, 'version', '?')}); your edit was not saved")


def update_versioned(session: Session, model: type[Row], row_id: int, *, expected_version: int,
                     changes: dict[str, Any]) -> Row:
    """Apply `changes` only if the row is still at `expected_version`; bump the version.

    One UPDATE ... WHERE id = :id AND version = :expected, so two writers cannot both win.
    """
    values = {**changes, "version": model.version + 1}  # type: ignore[attr-defined]
    if "updated_at" in model.model_fields:
        values["updated_at"] = utcnow()
    statement = (sa.update(model).where(model.id == row_id, model.version == expected_version)  # type: ignore[attr-defined]
                 .values(**values).execution_options(synchronize_session=False))
    result = session.execute(statement)
    if result.rowcount != 1:
        session.rollback()
        current = session.get(model, row_id)
        if current is None:
            raise LookupError(f"{model.__name__} {row_id} no longer exists")
        session.refresh(current)
        raise StaleEdit(current, expected_version)
    row = session.get(model, row_id)
    session.refresh(row)
    return row  # type: ignore[return-value]
