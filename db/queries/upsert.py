"""INSERT ... ON CONFLICT for the two dialects ClueLab runs on (one statement instead of a read and a write)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def insert_for(session: Session, model: Any) -> Any:
    """The dialect's INSERT construct for `model`, which has `on_conflict_do_update` and `.excluded`."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(model)
    if name == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"no upsert for the {name} dialect")
