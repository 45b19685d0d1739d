"""Model queries on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from db.queries import model_versions as q
from db.queries import predictions as prediction_queries
from model.baseline.backend import EXTRACTOR_VERSIONS
from tests.model.conftest import add_labelled_clips


@pytest.mark.parametrize("app_db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_versions_predictions_and_features(app_db, dataset, lead):
    ids = add_labelled_clips(app_db, dataset_id=dataset.id, start=0, count=3)
    with Session(app_db, expire_on_commit=False) as session:
        base = q.untrained_version(session, backend="baseline", dataset_id=dataset.id)
        assert base.is_active and q.untrained_version(session, backend="baseline", dataset_id=dataset.id).id == base.id
        newer = q.create_version(session, backend="baseline", name="baseline-v2", dataset_id=dataset.id, parent_id=base.id)
        q.activate(session, version=newer, user=lead)
        session.commit()
        assert q.active_version(session, dataset_id=dataset.id).id == newer.id
        assert [v.is_active for v in q.list_versions(session, dataset_id=dataset.id)] == [False, True]

        for version in (base, newer):
            prediction_queries.save_prediction(session, clip_id=ids[0], version_id=version.id, clues={"facial": "x"}, emotion="happy",
                              distribution={"happy": 1.0}, uncertainty=0.0, spans=[])
        prediction_queries.save_prediction(session, clip_id=ids[0], version_id=newer.id, clues={"facial": "y"}, emotion="sad",
                          distribution={"sad": 1.0}, uncertainty=0.1, spans=[])
        session.commit()
        assert prediction_queries.prediction_for_clip(session, clip_id=ids[0], version_id=base.id).emotion == "happy"
        assert prediction_queries.prediction_for_clip(session, clip_id=ids[0], version_id=newer.id).emotion == "sad"
        assert len(prediction_queries.predictions_for_version(session, version_id=newer.id)) == 1

        cached = q.cached_features(session, clip_ids=ids, versions=EXTRACTOR_VERSIONS)
        assert all(set(cached[i]) == set(EXTRACTOR_VERSIONS) for i in ids)
        stale = q.cached_features(session, clip_ids=ids, versions={**EXTRACTOR_VERSIONS, "face": "face-0"})
        assert "face" not in stale[ids[0]]
        assert q.save_features(session, clip_id=ids[0], features=cached[ids[0]]) == 0
        assert q.feature_counts(session, dataset_id=dataset.id)["scene"] == 3
        assert len(q.current_consensus(session, dataset_id=dataset.id)) == 3
        assert q.clips_of_dataset(session, dataset_id=dataset.id, unlabelled_only=True) == []
