"""The annotator's hot path reuses compiled SQL: every statement of loading a clip, autosaving and submitting
has a cache key, so SQLAlchemy compiles it once per process, not on every call (SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import default
from sqlmodel import Session

from annotation.labelling.annotate import AnnotationInput, load_task, save_draft, submit
from core.vocabulary import ASPECTS
from tests.queue.factories import make_dataset, make_users


def test_load_autosave_and_submit_statements_are_all_cached(db_engine):
    dataset, _ = make_dataset(db_engine, clips=4, overlap=1)
    (ann,) = make_users(db_engine, ["ann"])
    uncached: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if context is not None and context.cache_hit is default.NO_CACHE_KEY and statement.lstrip()[:6] in (
                "INSERT", "UPDATE", "SELECT", "DELETE"):
            uncached.append(statement.split("(")[0][:60])

    sa.event.listen(db_engine, "before_cursor_execute", note)
    try:
        for n in range(2):
            with Session(db_engine, expire_on_commit=False) as session:
                task = load_task(session, user=ann, dataset_id=dataset.id)
                values = AnnotationInput(clues={a.value: f"clue {n}" for a in ASPECTS}, emotion="happy", rating=2)
                save_draft(session, user=ann, clip_id=task.clip.id, values=values, seconds_spent=3.0)
                save_draft(session, user=ann, clip_id=task.clip.id, values=values, seconds_spent=4.0)
                submit(session, user=ann, clip_id=task.clip.id, values=values, seconds_spent=5.0)
    finally:
        sa.event.remove(db_engine, "before_cursor_execute", note)
    assert uncached == []
