"""Engine, sessions and the write unit of work. SQLite (the default) runs in WAL mode with foreign keys on."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import lru_cache
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

try:
    import fcntl
except ImportError:  # not POSIX: processes fall back on SQLite's busy handler
    fcntl = None  # type: ignore[assignment]

from core.settings import get_settings

T = TypeVar("T")


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get their folder, WAL and foreign keys."""
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # A pool as large as the busiest page-serving burst, so threads never queue for a connection.
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                                  pool_size=32, max_overflow=32)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


@lru_cache(maxsize=4)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine() -> Engine:
    """The process-wide engine for the configured database."""
    return _engine_for(get_settings().sqlalchemy_url)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


class FairLock:
    """A reentrant lock granted in arrival order (threading locks are not fair: a
    thread that releases and re-acquires at once can starve the others)."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._next_ticket = 0
        self._serving = 0
        self._owner: int | None = None
        self._depth = 0

    def __enter__(self) -> FairLock:
        me = threading.get_ident()
        with self._condition:
            if self._owner == me:
                self._depth += 1
                return self
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving:
                self._condition.wait()
            self._owner, self._depth = me, 1
        return self

    def __exit__(self, *_exc: object) -> None:
        with self._condition:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._serving += 1
                self._condition.notify_all()


class FileLock:
    """An exclusive `flock` on a file beside the SQLite database, so the app's *processes* queue for writes too.

    The kernel hands the lock to a waiting process the moment it is released, where
    SQLite's own busy handler would sleep and retry with growing back-off. Only one
    thread per process ever waits here (the FairLock is taken first).
    """

    def __init__(self, path: str):
        self._file = open(path, "a+b")  # noqa: SIM115 - held for the life of the process

    def __enter__(self) -> FileLock:
        fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, *_exc: object) -> None:
        fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)


_WRITE_LOCKS: dict[tuple[int, str], tuple[FairLock, FileLock | None]] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_locks(session: Session) -> tuple[FairLock, FileLock | None]:
    """This process's locks for the session's SQLite database (a forked child opens its own lock file)."""
    url = session.get_bind().url
    key = (os.getpid(), url.render_as_string(hide_password=True))
    with _WRITE_LOCKS_GUARD:
        if key not in _WRITE_LOCKS:
            path = url.database
            file_lock = FileLock(f"{path}.writelock") if path and path != ":memory:" and fcntl else None
            _WRITE_LOCKS[key] = (FairLock(), file_lock)
        return _WRITE_LOCKS[key]


@contextmanager
def write_transaction(session: Session) -> Iterator[None]:
    """One write unit of work: commits on success, rolls back on error.

    On SQLite it first takes this process's fair lock for the database, then a
    file lock shared by every process, then `BEGIN IMMEDIATE`. Python's sqlite3
    opens transactions lazily, and two deferred readers that both try to write
    fail with SQLITE_BUSY; IMMEDIATE takes the write lock up front. The locks
    queue the app's threads fairly and its processes promptly instead of leaving
    them to SQLite's sleep-and-retry busy handler, whose back-off makes for
    multi-second stragglers; a writer outside ClueLab is still kept out by
    IMMEDIATE and busy_timeout. Keep the body short: do reads and Python work
    before entering.
    """
    with ExitStack() as held:
        if is_sqlite(session):
            # Connection first, then the locks: a lock holder never waits on the pool.
            connection = session.connection()
            fair, across_processes = _write_locks(session)
            held.enter_context(fair)
            if across_processes is not None:
                held.enter_context(across_processes)
            dbapi = connection.connection.dbapi_connection
            if dbapi is not None and not dbapi.in_transaction:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _called_with_session(args: tuple, kwargs: dict) -> bool:
    return bool(args and isinstance(args[0], Session)) or "session" in kwargs


def with_session(fn: Callable[..., T]) -> Callable[..., T]:
    """Let a domain read be called without a session (pages, the CLI, jobs): it opens its own.

    Called with a session as its first argument it uses that one, so a caller
    that already holds a session (a test, another domain call) composes it.
    """

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> T:
        if _called_with_session(args, kwargs):
            return fn(*args, **kwargs)
        with session_scope() as session:
            return fn(session, *args, **kwargs)

    return run


def unit_of_work(fn: Callable[..., T]) -> Callable[..., T]:
    """Make a domain write one unit of work: the whole call commits, or none of it does.

    Opens its own session when called without one; either way the call runs in
    `write_transaction`, so callers (pages above all) never commit.
    """

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> T:
        if _called_with_session(args, kwargs):
            session = args[0] if args and isinstance(args[0], Session) else kwargs["session"]
            # Start from a clean slate: what the caller had pending is its own unit of work, kept even if
            # this one fails; and on SQLite the write lock is then taken up front, not upgraded mid-way.
            if session.in_transaction():
                session.commit()
            with write_transaction(session):
                return fn(*args, **kwargs)
        with Session(get_engine(), expire_on_commit=False) as session, write_transaction(session):
            return fn(session, *args, **kwargs)

    return run
