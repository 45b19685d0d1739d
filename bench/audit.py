"""The audit log at scale: one page of `annotation.audit_log.search` (what the Audit page and `cluelab audit`
run) at 100k entries, unfiltered, deep pages and each filter, on SQLite and PostgreSQL.

A fresh database per backend gets --rows entries from 50 users over --rows minutes (mostly submissions,
a few rare actions). Reported per query: best of 3, in milliseconds, with the matching total.

    PYTHONPATH=$PWD python bench/audit.py [--rows 100000] [--backends sqlite,postgres]

Target: every query under 100 ms on both databases.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from sqlmodel import Session  # noqa: E402

from annotation.audit_log import AuditFilter, actions, search  # noqa: E402
from annotation.permissions import command_line_actor  # noqa: E402
from db.engine import make_engine  # noqa: E402
from db.migrate import upgrade_to_head  # noqa: E402
from db.models import AuditLog, User, utcnow  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get("CLUELAB_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
ACTIONS = ["submit_annotation"] * 60 + ["skip_clip"] * 10 + ["edit_annotation"] * 10 + ["sign_in"] * 15 + [
    "export", "set_overlap", "create_study", "rate_study", "cancel_job"]


def seed(engine: sa.Engine, rows: int) -> tuple[list[int], object]:
    with Session(engine) as session:
        users = [User(username=f"u{i}", password_hash="!", roles=["annotator"]) for i in range(50)]
        session.add_all(users)
        session.commit()
        ids = [u.id for u in users]
    rnd, now = random.Random(1), utcnow()
    batch = [{"user_id": rnd.choice(ids), "action": rnd.choice(ACTIONS), "entity": "annotation", "entity_id": i,
              "detail": {"clip_id": i}, "at": now - timedelta(minutes=rows - i)} for i in range(rows)]
    with engine.begin() as connection:
        connection.execute(sa.insert(AuditLog.__table__), batch)
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("ANALYZE auditlog"))
    return ids, now


def measure(engine: sa.Engine, rows: int) -> None:
    ids, now = seed(engine, rows)
    cli = command_line_actor()
    cases = [
        ("first page", {}),
        ("middle page", {"offset": rows // 2}),
        ("last page", {"offset": rows - 50}),
        ("rare action", {"wanted": AuditFilter(action="export")}),
        ("one user", {"wanted": AuditFilter(user_id=ids[3])}),
        ("one day", {"wanted": AuditFilter(since=now - timedelta(days=30), until=now - timedelta(days=29))}),
        ("user + action + 40 days", {"wanted": AuditFilter(user_id=ids[3], action="skip_clip",
                                                            since=now - timedelta(days=40), until=now)}),
    ]
    with Session(engine) as session:
        for label, kwargs in cases:
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                page = search(session, user=cli, **kwargs)
                best = min(best, time.perf_counter() - start)
            print(f"  {label:28s} {best * 1000:7.1f} ms   total {page.total}")
        start = time.perf_counter()
        actions(session, user=cli)
        print(f"  {'action choices':28s} {(time.perf_counter() - start) * 1000:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        print(f"{backend}, {args.rows} entries:")
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                engine = make_engine(f"sqlite:///{folder}/audit.db")
                upgrade_to_head(engine)
                measure(engine, args.rows)
                engine.dispose()
            continue
        name = f"cluelab_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            engine = make_engine(POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
            upgrade_to_head(engine)
            measure(engine, args.rows)
            engine.dispose()
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
