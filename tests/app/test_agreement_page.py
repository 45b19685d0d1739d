"""The agreement dashboard renders charts for a lead, filters, and refuses annotators."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import streamlit as st
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from db.engine import get_engine
from db.migrate import upgrade_to_head
from db.models import Consensus
from tests.annotation.factories_consensus import (
    make_annotation,
    make_clip,
    make_dataset,
    make_prediction,
    make_user,
)

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "agreement.py")
LABELS = ["neutral", "angry", "happy", "sad"]


@pytest.fixture
def world():
    st.cache_data.clear()  # cached views from another test's database must not leak in
    engine = get_engine()
    upgrade_to_head(engine)
    with Session(engine) as session:
        lead = make_user(session, "lead", "lead")
        people = [make_user(session, f"ann{i}", "annotator") for i in range(3)]
        dataset = make_dataset(session, name="pilot")
        for c in range(8):
            clip = make_clip(session, dataset, f"c{c}")
            make_prediction(session, clip, {"facial": "He smiles."}, emotion=LABELS[c % 4])
            for i, who in enumerate(people):
                make_annotation(session, clip, who, emotion=LABELS[(c + (i == 2)) % 4], rating=1 + (c + i) % 4,
                                clues={"facial": "He smiles." if i < 2 else "He frowns."},
                                submitted_at=datetime(2026, 11, 2 + c, tzinfo=UTC))
            session.add(Consensus(clip_id=clip.id, emotion=LABELS[c % 4], clues={"facial": "The person smiles."}))
        session.commit()
        return {"lead": lead.id, "annotator": people[0].id, "people": [p.id for p in people]}


def test_lead_sees_coefficients_and_charts(world):
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["user_id"] = world["lead"]
    at.run()
    assert not at.exception
    assert "24 finished annotations" in " ".join(c.value for c in at.caption)
    annotators = next(d.value for d in at.dataframe if "agreement_with_consensus" in d.value.columns)
    assert set(annotators["annotator"]) == {"ann0", "ann1", "ann2"}
    assert annotators.set_index("annotator").loc["ann2", "agreement_with_consensus"] == 0.0


def test_tables_show_readable_column_names(world):
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["user_id"] = world["lead"]
    at.run()
    assert not at.exception
    labels = {}
    for frame in at.dataframe:
        labels.update({column: config.get("label") for column, config in json.loads(frame.proto.columns).items()})
    for column in ("agreement_with_consensus", "median_seconds", "n_clips", "ci"):
        assert labels.get(column) and "_" not in labels[column], (column, labels.get(column))
    assert labels["ci"] == "95% CI"
    figures = next(d.value for d in at.dataframe if "metric" in d.value.columns)
    assert "Krippendorff's α (nominal)" in set(figures["metric"])


def test_annotator_filter_narrows_the_report(world):
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["user_id"] = world["lead"]
    at.run()
    at.multiselect(key="agreement.people").set_value(world["people"][:2]).run()
    assert not at.exception
    assert "16 finished annotations" in " ".join(c.value for c in at.caption)


def test_annotator_is_refused(world):
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["user_id"] = world["annotator"]
    at.run()
    assert "for leads" in at.error[0].value
