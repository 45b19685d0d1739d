"""The open-vocabulary pages in AppTest: annotate a word set, adjudicate the proposed set, read α on sets
and the EW scores."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from annotation.labelling import adjudication
from db.engine import get_engine
from db.migrate import upgrade_to_head
from db.models import Annotation, Consensus
from tests.open_vocabulary.factories import open_vocabulary_world

PAGES = Path(__file__).resolve().parents[2] / "pages"


def run(page: str, user_id: int) -> AppTest:
    at = AppTest.from_file(str(PAGES / page), default_timeout=120)
    at.session_state["user_id"] = user_id
    return at.run()


@pytest.fixture
def engine():
    st.cache_data.clear()  # cached views from another test's database must not leak in
    engine = get_engine()
    upgrade_to_head(engine)
    return engine


def test_annotator_types_a_word_set_with_an_unknown_word(engine):
    dataset, clips, _, annotators, _ = open_vocabulary_world(engine, annotate=False)
    at = run("annotate.py", annotators[0].id)
    assert not at.exception, at.exception
    clip = next(c for c in clips if c.name == at.subheader[0].value)
    words = at.multiselect(key=f"emotion_words_{clip.id}")
    model = [["happy", "surprised"], ["angry"]][clips.index(clip)]
    assert words.value == model  # the model's set is prefilled to accept or edit
    assert "emotion_0" not in [b.key for b in at.button]  # no label set: no emotion buttons
    assert any("Model clue check" in c.value for c in at.caption)  # reference-free flags beside the clues

    words.set_value(["relieved", "blorfish"]).run()
    assert not at.exception, at.exception
    assert any("Not on the wheel" in c.value and "blorfish" in c.value for c in at.caption)
    at.button(key="rate_3").click().run()
    at.button(key="submit").click().run()
    assert not at.exception, at.exception
    assert "Submitted" in at.success[0].value
    with Session(engine) as session:
        stored = session.exec(select(Annotation).where(Annotation.clip_id == clip.id)).one()
    assert stored.status == "submitted" and stored.emotion_words == ["relieved", "blorfish"]


def test_lead_accepts_the_proposed_word_set_after_an_edit(engine):
    dataset, clips, _, _, lead = open_vocabulary_world(engine)
    at = run("adjudicate.py", lead.id)
    assert not at.exception, at.exception
    assert "Emotion words" in [s.value for s in at.subheader]
    clip = next(c for c in clips if _has(at, f"emotion_words_adjudicate_{c.id}"))  # the clip shown first
    picker = at.multiselect(key=f"emotion_words_adjudicate_{clip.id}")
    assert picker.value == (["happy"] if clip is clips[0] else ["sad"])
    votes = next(df.value for df in at.dataframe if "raw words" in df.value.columns)
    assert set(votes["majority"]) == {True, False}
    picker.set_value([*picker.value, "tearful"]).run()
    at.button(key="adjudicate.accept_edits").click().run()
    assert not at.exception, at.exception
    with Session(engine) as session:
        row = session.exec(select(Consensus).where(Consensus.clip_id == clip.id)).one()
    assert row.emotion_words[-1] == "tearful" and row.method.endswith("+edited")


def _has(at: AppTest, key: str) -> bool:
    try:
        at.multiselect(key=key)
        return True
    except KeyError:
        return False


def _accept_all(engine, clips, lead) -> None:
    with Session(engine) as session:
        for clip in clips:
            adjudication.accept(session, user=lead, proposal=adjudication.propose(session, clip_id=clip.id))
        session.commit()


def test_agreement_page_shows_alpha_on_word_sets(engine):
    dataset, clips, _, _, lead = open_vocabulary_world(engine)
    at = run("agreement.py", lead.id)
    assert not at.exception, at.exception
    assert any("word sets mapped to wheel 1, level 1" in c.value for c in at.caption)
    people = next(df.value for df in at.dataframe if "masi_alpha_without" in df.value.columns)
    assert sorted(people["annotator"]) == ["ann", "bob", "cat"]


def test_evaluate_page_scores_word_sets_against_consensus(engine):
    dataset, clips, version_id, _, lead = open_vocabulary_world(engine)
    _accept_all(engine, clips, lead)
    at = run("evaluate_sources.py", lead.id)
    assert not at.exception, at.exception
    at.selectbox(key="ew_reference").select("consensus").run()
    at.button(key="ew_score").click().run()
    assert not at.exception, at.exception
    table = next(df.value for df in at.dataframe if "level1_f" in df.value.columns)
    assert {"annotator:ann", "annotator:cat"} <= set(table["system"])
    assert table.set_index("system").loc["annotator:cat", "unmapped"] == "blorfish"
