"""App tests: a migrated database with one account per role."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from cluelab.bootstrap import init_database
from db.engine import get_engine
from db.queries.users import create_user

PASSWORD = "test-password-1"


@pytest.fixture
def accounts() -> dict[str, int]:
    init_database()
    ids = {}
    with Session(get_engine()) as session:
        for role in ("annotator", "researcher", "lead", "admin"):
            ids[role] = create_user(session, username=role, password=PASSWORD, roles=[role]).id
        session.commit()
    return ids
