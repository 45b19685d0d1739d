"""Clue-quality flags from the database: one prediction beside its clues (Annotate) and per system (Evaluate)."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from annotation.evaluation.quality_report import prediction_quality, system_quality
from db.engine import get_engine
from db.migrate import upgrade_to_head
from db.models import ClipFeature, Prediction
from tests.queue.factories import make_dataset, make_users

PAGES = Path(__file__).resolve().parents[2] / "pages"
CLUES = {"facial": "She smiles warmly.", "vocal": "Her voice is loud, a raised voice.",
         "verbal": 'She says "line 0".', "scene": "No video frames, so no scene evidence."}


def seed(engine):
    dataset, clips = make_dataset(engine, clips=1, overlap=1)
    with Session(engine, expire_on_commit=False) as session:
        prediction = session.exec(select(Prediction)).one()
        prediction.clues = CLUES
        session.add(prediction)
        session.add(ClipFeature(clip_id=clips[0].id, extractor="face", extractor_version="1",
                                data={"frames": 6, "frames_with_face": 6, "au": {"AU12": {"max": 0.05}}}))
        session.add(ClipFeature(clip_id=clips[0].id, extractor="voice", extractor_version="1",
                                data={"has_voice": True, "intensity": {"rise_db": 9.0}}))
        session.commit()
    return dataset, clips, prediction


def test_prediction_quality_reads_the_cached_features(db_engine):
    dataset, clips, prediction = seed(db_engine)
    with Session(db_engine) as session:
        quality = prediction_quality(session, prediction_id=prediction.id)
        table = system_quality(session, dataset_id=dataset.id, systems=[f"model:{prediction.model_version_id}"])
    claims = {c.claim: c.status for c in quality.claims}
    assert claims == {"smile": "unsupported", "raised voice": "ok", "quote “line 0”": "ok"}
    assert quality.coverage == {"audio": True, "visual": True, "content": True}
    assert quality.consistent is not None
    row = table.iloc[0]
    assert (row.grounded_facial, row.grounded_vocal, row.grounded_verbal) == (0.0, 1.0, 1.0)
    assert row.claims_checked == 3 and row.claims_unsupported == 1 and row.coverage == 1.0


@pytest.fixture
def engine():
    st.cache_data.clear()
    engine = get_engine()
    upgrade_to_head(engine)
    return engine


def test_annotate_page_flags_the_unsupported_smile(engine):
    seed(engine)
    (ann,) = make_users(engine, ["ann"])
    at = AppTest.from_file(str(PAGES / "annotate.py"), default_timeout=120)
    at.session_state["user_id"] = ann.id
    at.run()
    assert not at.exception, at.exception
    captions = [c.value for c in at.caption]
    assert any("⚠ smile: AU12 peaks at 0.05" in c for c in captions)
    assert any("✓ raised voice" in c for c in captions)


def test_evaluate_page_checks_clues_per_system(engine):
    dataset, clips, prediction = seed(engine)
    (lead,) = make_users(engine, ["lead"], roles=("lead",))
    at = AppTest.from_file(str(PAGES / "evaluate_sources.py"), default_timeout=120)
    at.session_state["user_id"] = lead.id
    at.run()
    assert at.multiselect(key="quality_systems").value == [f"model:{prediction.model_version_id}"]
    at.button(key="quality_score").click().run()
    assert not at.exception, at.exception
    table = next(df.value for df in at.dataframe if "grounded_facial" in df.value.columns)
    assert table.iloc[0]["grounded_facial"] == 0.0 and table.iloc[0]["claims_unsupported"] == 1


def test_adjudicate_page_shows_the_checks_with_consistency(engine):
    from annotation.labelling.annotate import AnnotationInput, submit

    dataset, clips, prediction = seed(engine)
    (ann,) = make_users(engine, ["ann"])
    (lead,) = make_users(engine, ["lead"], roles=("lead",))
    with Session(engine) as session:
        submit(session, user=ann, clip_id=clips[0].id,
               values=AnnotationInput(clues=CLUES, emotion="happy", rating=2))
    at = AppTest.from_file(str(PAGES / "adjudicate.py"), default_timeout=120)
    at.session_state["user_id"] = lead.id
    at.run()
    assert not at.exception, at.exception
    captions = [c.value for c in at.caption]
    assert any(c.startswith("Model clue check:") and "reasoning" in c for c in captions)
    assert any("⚠ smile" in c for c in captions)
