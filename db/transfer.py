"""Move a ClueLab database to PostgreSQL: every table in dependency order, streamed in chunks, verified.

`move_database` migrates the target to the Alembic head, refuses a target that
holds rows (unless forced, when they are removed first), copies each table in
primary-key order, compares row counts and a per-table checksum of the
normalised rows on both sides, and sets PostgreSQL's sequences past the
largest id. The copy is one transaction on the target: a failure, or a
checksum that differs, leaves it as it was. Media paths are stored relative to
the data directory and are copied unchanged, so the media folder stays where
it is (`CLUELAB_DATA_DIR`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

import db.models  # noqa: F401 - registers every table in SQLModel.metadata
from db.engine import make_engine
from db.migrate import current_revision, upgrade_to_head

CHUNK_ROWS = 2000


class TransferError(Exception):
    """A move that cannot go ahead or did not verify; the message is one line for a person."""


@dataclass
class TableCheck:
    name: str
    rows: int
    checksum: str


@dataclass
class TransferReport:
    target: str
    tables: list[TableCheck] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


def tables_in_order() -> list[sa.Table]:
    """Every ClueLab table, each after the tables its foreign keys point at."""
    return list(SQLModel.metadata.sorted_tables)


def postgres_url(url: str) -> str:
    """The SQLAlchemy URL of a PostgreSQL database (`postgres://`, `postgresql://` use psycopg 3); else TransferError."""
    text = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if text.startswith(prefix):
            text = "postgresql+psycopg://" + text[len(prefix):]
    try:
        parsed = sa.engine.make_url(text)
    except sa.exc.ArgumentError:
        raise TransferError(f"not a database URL: {url!r} (expected postgresql://user:password@host:5432/name)") \
            from None
    if parsed.get_backend_name() != "postgresql":
        raise TransferError(f"the target must be a PostgreSQL URL (postgresql://user:password@host/name), "
                            f"not {parsed.get_backend_name()}")
    if not parsed.database:
        raise TransferError("the PostgreSQL URL names no database (…/name at its end)")
    return text


def _shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _first_line(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return lines[0] if lines else type(cause).__name__


def connect_or_fail(engine: Engine) -> None:
    """Reach the database once, or raise TransferError saying why in one line."""
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as error:
        raise TransferError(f"cannot reach {_shown(engine)}: {_first_line(error)}") from None


# --- normalised rows and checksums ------------------------------------------------------


def _normal(value: Any) -> Any:
    """A value as both databases give it back, in one JSON-able form (datetimes in UTC, floats exact)."""
    if isinstance(value, datetime):
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    return value


class _Checksum:
    def __init__(self) -> None:
        self.rows = 0
        self._hash = hashlib.sha256()

    def add(self, rows: Iterable[sa.Row]) -> None:
        for row in rows:
            self.rows += 1
            line = json.dumps([_normal(v) for v in row], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            self._hash.update(line.encode("utf-8"))
            self._hash.update(b"\n")

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _ordered(table: sa.Table) -> sa.Select:
    return sa.select(*table.columns).order_by(*table.primary_key.columns)


def table_checksum(connection: Connection, table: sa.Table, *, chunk: int = CHUNK_ROWS) -> TableCheck:
    """Row count and SHA-256 of the table's rows in primary-key order, each normalised (see `_normal`)."""
    checksum = _Checksum()
    result = connection.execution_options(yield_per=chunk).execute(_ordered(table))
    for part in result.partitions():
        checksum.add(part)
    return TableCheck(name=table.name, rows=checksum.rows, checksum=checksum.hexdigest())


def checksums(engine: Engine) -> dict[str, TableCheck]:
    """Every table's count and checksum (the same on two databases holding the same rows)."""
    with engine.connect() as connection:
        return {t.name: table_checksum(connection, t) for t in tables_in_order()}


# --- the move --------------------------------------------------------------------------


def _rows_in(connection: Connection) -> dict[str, int]:
    return {t.name: int(connection.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
            for t in tables_in_order()}


def _empty(connection: Connection) -> None:
    names = ", ".join(f'"{t.name}"' for t in tables_in_order())
    connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def _reset_sequences(connection: Connection) -> None:
    """Each serial id's sequence continues after the largest id copied (or starts at 1 on an empty table)."""
    for table in tables_in_order():
        for column in table.primary_key.columns:
            if not isinstance(column.type, sa.Integer):
                continue
            connection.execute(sa.text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), COALESCE(MAX(\"{column.name}\"), 1), "
                f"MAX(\"{column.name}\") IS NOT NULL) FROM \"{table.name}\""),
                {"table": f'"{table.name}"', "column": column.name})


def move_database(source: Engine, target_url: str, *, force: bool = False, chunk: int = CHUNK_ROWS,
                  on_table: Callable[[str, int], None] | None = None) -> TransferReport:
    """Copy every row of `source` into the PostgreSQL database at `target_url`, verified; see the module doc.

    `on_table(name, rows)` is told as each table is copied.
    """
    url = postgres_url(target_url)
    target = make_engine(url)
    try:
        if source.url == target.url:
            raise TransferError("the target is the database being moved")
        connect_or_fail(source)
        connect_or_fail(target)
        upgrade_to_head(source)  # what every command does on start: both sides at the same schema
        try:
            upgrade_to_head(target)
        except sa.exc.DBAPIError as error:
            raise TransferError(f"cannot migrate {_shown(target)}: {_first_line(error)}") from None
        if current_revision(source) != current_revision(target):
            raise TransferError(f"schema versions differ: source {current_revision(source)}, "
                                f"target {current_revision(target)}")
        report = TransferReport(target=_shown(target))
        with _snapshot(source) as reading, target.begin() as writing:
            present = {name: n for name, n in _rows_in(writing).items() if n}
            if present and not force:
                shown = ", ".join(f"{name} {n}" for name, n in present.items())
                raise TransferError(f"{_shown(target)} already holds rows ({shown}); "
                                    "pass --force to replace them")
            if present:
                _empty(writing)
            for table in tables_in_order():
                report.tables.append(_copy_table(reading, writing, table, chunk=chunk))
                if on_table is not None:
                    on_table(table.name, report.tables[-1].rows)
            for copied in report.tables:
                table = SQLModel.metadata.tables[copied.name]
                landed = table_checksum(writing, table, chunk=chunk)
                if (landed.rows, landed.checksum) != (copied.rows, copied.checksum):
                    raise TransferError(f"table {copied.name} did not verify ({copied.rows} rows read, "
                                        f"{landed.rows} written, checksums {copied.checksum[:12]} vs "
                                        f"{landed.checksum[:12]}); the target was left unchanged")
            _reset_sequences(writing)
        return report
    except sa.exc.DBAPIError as error:
        raise TransferError(f"the move stopped, the target was left unchanged: {_first_line(error)}") from None
    finally:
        target.dispose()


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection that reads every table as of one moment, so rows written meanwhile never half-arrive."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("BEGIN")  # pysqlite would start no transaction for reads
            yield connection
        return
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection, connection.begin():
        yield connection


def _copy_table(reading: Connection, writing: Connection, table: sa.Table, *, chunk: int) -> TableCheck:
    checksum = _Checksum()
    result = reading.execution_options(yield_per=chunk).execute(_ordered(table))
    names = [c.name for c in table.columns]
    insert = table.insert()
    for part in result.partitions():
        rows = [dict(zip(names, row, strict=True)) for row in part]
        writing.execute(insert, rows)
        checksum.add(part)
    return TableCheck(name=table.name, rows=checksum.rows, checksum=checksum.hexdigest())
