"""Fixtures for study tests: a session on each database and a dataset with three systems."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from tests.app.conftest import accounts  # noqa: F401 — app tests: a migrated database, one account per role
from tests.studies.factories import World, build_world


@pytest.fixture
def session(db_engine):
    with Session(db_engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def world(session) -> World:
    return build_world(session)
