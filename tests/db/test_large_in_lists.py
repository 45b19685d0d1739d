"""Training and evaluation queries over more clips than a statement may bind (issue 17).

Stock SQLite binds at most 32,766 variables per statement and PostgreSQL's protocol 65,535; Debian's
SQLite allows more, so the SQLite connections here are held to the stock limit.
"""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from db.models import Clip, Consensus, Dataset
from db.queries import annotations as annotation_queries
from db.queries import clips as clip_queries
from db.queries import model_versions as q
from db.queries.chunking import IN_CHUNK, in_chunks
from model.baseline.backend import EXTRACTOR_VERSIONS
from model.training import build_snapshot
from tests.model.conftest import synthetic_features

CLIPS = 70_000
WITH_FEATURES = 30
STOCK_SQLITE_LIMIT = 32_766


def _stock_sqlite_limit(engine: sa.engine.Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    def hold(dbapi_connection, _record) -> None:  # noqa: ANN001
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, STOCK_SQLITE_LIMIT)

    sa.event.listen(engine, "connect", hold)
    engine.dispose()  # connections opened before the listener keep Debian's higher limit


def _many_labelled_clips(engine: sa.engine.Engine) -> tuple[int, list[int]]:
    """A dataset of CLIPS clips, each with a current consensus; the first WITH_FEATURES have cached features."""
    import random

    with Session(engine) as session:
        dataset = Dataset(name="big", language="en")
        session.add(dataset)
        session.commit()
        dataset_id = int(dataset.id)
    clip_table, consensus_table = Clip.__table__, Consensus.__table__
    template = Clip(dataset_id=dataset_id, name="x", status="ready").model_dump(exclude={"id"})
    with engine.begin() as connection:
        connection.execute(sa.insert(clip_table), [{**template, "name": f"clip-{n:06d}"} for n in range(CLIPS)])
        ids = [row[0] for row in connection.execute(
            sa.select(clip_table.c.id).where(clip_table.c.dataset_id == dataset_id).order_by(clip_table.c.id))]
        consensus = Consensus(clip_id=0, emotion="happy").model_dump(exclude={"id"})
        emotions = ("happy", "sad", "angry")
        connection.execute(sa.insert(consensus_table),
                           [{**consensus, "clip_id": clip_id, "emotion": emotions[n % 3]} for n, clip_id in enumerate(ids)])
    rng = random.Random(0)
    with Session(engine) as session:
        for n, clip_id in enumerate(ids[:WITH_FEATURES]):
            q.save_features(session, clip_id=clip_id, features=synthetic_features(("happy", "sad", "angry")[n % 3], rng))
        session.commit()
    return dataset_id, ids


def test_in_chunks_splits_distinct_values_below_every_limit():
    chunks = list(in_chunks([5, 3, 5, *range(10_000)]))
    assert all(len(chunk) <= IN_CHUNK for chunk in chunks)
    assert sorted(v for chunk in chunks for v in chunk) == list(range(10_000))
    assert list(in_chunks([])) == []


def test_training_queries_over_70k_consensus_clips(db_engine):
    _stock_sqlite_limit(db_engine)
    dataset_id, ids = _many_labelled_clips(db_engine)
    with Session(db_engine, expire_on_commit=False) as session:
        labelled = list(reversed(ids))  # what training passes: every clip with current consensus

        clips = q.clips_of_dataset(session, dataset_id=dataset_id, clip_ids=labelled)
        assert [c.id for c in clips] == ids  # id order, as before

        features = q.cached_features(session, clip_ids=labelled, versions=EXTRACTOR_VERSIONS)
        assert len(features) == CLIPS
        assert sum(1 for f in features.values() if set(f) == set(EXTRACTOR_VERSIONS)) == WITH_FEATURES

        assert len(q.latest_features(session, clip_ids=labelled)) == CLIPS
        assert annotation_queries.adjudicated_clip_ids(session, clip_ids=labelled) == set(ids)
        assert clip_queries.clips_to_ingest(session, clip_ids=labelled) == []  # no media to wait for

        snapshot = build_snapshot(session, dataset_id=dataset_id, versions=EXTRACTOR_VERSIONS)  # all 70k consensus rows
        assert len(snapshot.train) + len(snapshot.held_out) == WITH_FEATURES


@pytest.mark.parametrize("count", [0, 1, IN_CHUNK, IN_CHUNK + 1])
def test_in_chunks_edges(count):
    chunks = list(in_chunks(range(count)))
    assert [v for chunk in chunks for v in chunk] == list(range(count))
