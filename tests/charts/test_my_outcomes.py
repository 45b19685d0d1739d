"""My work: after adjudication an annotator sees how consensus came out on their own clips, nobody else's."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from annotation.labelling.outcomes import my_outcomes
from core.vocabulary import AnnotationStatus
from db.engine import get_engine
from db.migrate import upgrade_to_head
from db.models import Consensus
from tests.annotation.factories_consensus import make_annotation, make_clip, make_dataset, make_user

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "my_work.py")


@pytest.fixture
def world():
    engine = get_engine()
    upgrade_to_head(engine)
    with Session(engine, expire_on_commit=False) as session:
        ann, bob = make_user(session, "ann", "annotator"), make_user(session, "bob", "annotator")
        dataset = make_dataset(session, name="d", overlap=2)
        settled, open_clip, skipped = (make_clip(session, dataset, n) for n in ("settled", "open", "skipped"))
        make_annotation(session, settled, ann, emotion="happy",
                        clues={"facial": "She smiles widely.", "vocal": "Loud *voice*."})
        make_annotation(session, settled, bob, emotion="sad", clues={"facial": "BOB-SECRET frown."})
        make_annotation(session, open_clip, ann, emotion="angry", clues={"facial": "Clenched jaw."})
        make_annotation(session, skipped, ann, emotion=None, status=AnnotationStatus.skipped.value)
        session.add(Consensus(clip_id=settled.id, emotion="sad",
                              clues={"facial": "She smiles a little.", "vocal": "Loud voice."}))
        session.add(Consensus(clip_id=skipped.id, emotion="neutral"))
        session.commit()
        return {"ann": ann, "bob": bob}


def test_outcomes_are_own_adjudicated_submissions_only(world):
    outcomes = my_outcomes(user=world["ann"])
    assert [o.clip_name for o in outcomes] == ["settled"]
    (one,) = outcomes
    assert (one.yours, one.consensus, one.agreed) == ("happy", "sad", False)
    assert one.clues["facial"] == ("She smiles widely.", "She smiles a little.")
    assert "BOB-SECRET" not in repr(outcomes)
    assert [o.yours for o in my_outcomes(user=world["bob"])] == ["sad"]


def test_my_work_page_shows_emotion_against_consensus_and_clue_diffs(world):
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["user_id"] = world["ann"].id
    at.run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "Consensus emotion" in d.value.columns)
    assert table["Clip"].tolist() == ["settled"]
    assert table.iloc[0]["Your emotion"] == "happy" and table.iloc[0]["Consensus emotion"] == "sad"
    assert table.iloc[0]["Same"] == "no"
    text = " ".join(m.value for m in at.markdown)
    assert "BOB-SECRET" not in text
    assert "<del" in text and "widely" in text and "<ins" in text and "little" in text  # your words vs consensus
    assert "*voice*" not in text  # stored clue text is rendered as text, not Markdown
