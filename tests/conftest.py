"""Shared fixtures: a fresh database per test on SQLite, and on PostgreSQL for `db_engine`.

PostgreSQL tests create a uniquely named database on 127.0.0.1:5432 for the
test session and drop it afterwards; each test gets its own schema state by
truncating tables. Set CLUELAB_SKIP_POSTGRES=1 to skip them locally (CI never does).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.settings import get_settings
from db.engine import make_engine
from db.migrate import upgrade_to_head

POSTGRES_ADMIN_URL = os.environ.get("CLUELAB_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own data directory and the default SQLite database inside it."""
    monkeypatch.setenv("CLUELAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _keep_main_module() -> Iterator[None]:
    """Streamlit's AppTest leaves the last page it ran as `sys.modules["__main__"]`; a process started
    with the spawn method re-runs `__main__` first, so a later test's child would run that page."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    upgrade_to_head(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    if os.environ.get("CLUELAB_SKIP_POSTGRES") == "1":
        pytest.skip("CLUELAB_SKIP_POSTGRES=1")
    name = f"cluelab_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    migrated = make_engine(url)
    upgrade_to_head(migrated)
    migrated.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    yield engine
    # Leave the next test an empty database.
    with engine.begin() as connection:
        tables = [row[0] for row in connection.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"))]
        if tables:
            connection.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_engine(request: pytest.FixtureRequest) -> Engine:
    """The same test on SQLite and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_engine")


# --- an OpenAI-compatible endpoint -------------------------------------------------------------


@pytest.fixture
def llm_server(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """A real local chat-completions server (tests/model/fake_openai_server.py) behind the `openai` backend's settings."""
    from annotation import llm_client
    from tests.model.fake_openai_server import FakeOpenAIServer

    with FakeOpenAIServer(api_key="sk-test", models=("test-model",)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("CLUELAB_LLM_MODEL", "test-model")
        monkeypatch.setattr(llm_client, "BACKOFF_BASE_S", 0.01)  # retries in milliseconds, not seconds
        get_settings.cache_clear()
        yield server
    get_settings.cache_clear()
