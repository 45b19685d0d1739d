"""The annotate page in AppTest: queue → edit → emotion → rating → submit → next clip; drafts; refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from db.engine import get_engine
from db.migrate import upgrade_to_head
from db.models import Annotation
from tests.queue.factories import make_dataset, make_users

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "annotate.py")


@pytest.fixture
def world():
    engine = get_engine()
    upgrade_to_head(engine)
    dataset, clips = make_dataset(engine, clips=3, overlap=2)
    (ann,) = make_users(engine, ["ann"])
    return engine, dataset, clips, ann


def open_page(user_id: int) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["user_id"] = user_id
    return at.run()


def drafts_written(at: AppTest, clip_id: int) -> None:
    """Drafts are written by a worker thread (off the rerun path): wait for the clip's newest save."""
    at.session_state["_cluelab_draft_saver"].wait(clip_id)


def clue(at: AppTest, clip_id: int, aspect: str):
    return at.text_area(key=f"clue_{clip_id}_{aspect}")


def test_annotator_edits_submits_and_gets_the_next_clip(world):
    engine, dataset, clips, ann = world
    at = open_page(ann.id)
    assert not at.exception
    first = clips[-1]  # least certain first
    assert at.subheader[0].value == first.name
    assert clue(at, first.id, "facial").value == f"model facial clue for {first.name}"

    clue(at, first.id, "facial").input("raised brows and a wide smile").run()
    clue(at, first.id, "vocal").input(f"model vocal clue for {first.name}, louder at the end").run()
    at.button(key="emo_2").click().run()  # happy
    at.button(key="rate_3").click().run()
    at.radio(key=f"confidence_{first.id}").set_value(4).run()
    assert not at.exception

    diffs = [m.value for m in at.markdown if "cl-diff" in m.value]
    assert any("<ins" in d and "smile" in d and "<del" in d for d in diffs)
    assert any("louder" in d and "<ins" in d for d in diffs)

    at.button(key="submit").click().run()
    assert not at.exception
    assert "Submitted" in at.success[0].value
    assert at.subheader[0].value == clips[-2].name

    with Session(engine) as session:
        stored = session.exec(select(Annotation).where(Annotation.clip_id == first.id)).one()
    assert stored.status == "submitted"
    assert stored.clues["facial"] == "raised brows and a wide smile"
    assert stored.clues["vocal"].endswith("louder at the end")
    assert stored.clues["scene"] == f"model scene clue for {first.name}"
    assert (stored.emotion, stored.rating, stored.confidence) == ("happy", 3, 4)
    assert stored.seconds_spent > 0
    assert stored.prediction_id is not None


def test_submit_without_rating_is_refused_with_a_message(world):
    engine, dataset, clips, ann = world
    at = open_page(ann.id)
    clip = clips[-1]
    at.button(key="emo_0").click().run()
    at.button(key="submit").click().run()
    assert not at.exception
    assert any("Rate the model's reasoning" in e.value for e in at.error)
    assert at.subheader[0].value == clip.name  # still on the same clip
    drafts_written(at, clip.id)
    with Session(engine) as session:
        stored = session.exec(select(Annotation).where(Annotation.clip_id == clip.id)).one()
    assert stored.status == "draft" and stored.emotion == "neutral"


def test_no_evidence_counts_as_filled(world):
    engine, dataset, clips, ann = world
    at = open_page(ann.id)
    clip = clips[-1]
    clue(at, clip.id, "scene").input("").run()
    at.button(key="emo_1").click().run()
    at.button(key="rate_2").click().run()
    at.button(key="submit").click().run()
    assert any("Video content & environment" in e.value for e in at.error)
    at.checkbox(key=f"noev_{clip.id}_scene").check().run()
    at.button(key="submit").click().run()
    assert not at.error and "Submitted" in at.success[0].value
    with Session(engine) as session:
        stored = session.exec(select(Annotation).where(Annotation.clip_id == clip.id)).one()
    assert stored.no_evidence == ["scene"] and stored.status == "submitted"


def test_draft_survives_rerun_and_a_new_session(world):
    engine, dataset, clips, ann = world
    at = open_page(ann.id)
    clip = clips[-1]
    clue(at, clip.id, "verbal").input("she says she is fine, flatly").run()
    at.button(key="rate_1").click().run()
    at.run()
    assert clue(at, clip.id, "verbal").value == "she says she is fine, flatly"
    drafts_written(at, clip.id)
    # A reload or a new login is a new session: the draft comes back from the database.
    again = open_page(ann.id)
    assert again.subheader[0].value == clip.name
    assert clue(again, clip.id, "verbal").value == "she says she is fine, flatly"
    assert clue(again, clip.id, "facial").value == f"model facial clue for {clip.name}"
    assert any("draft restored" in c.value for c in again.caption)


def test_reset_to_model_and_skip_with_reason(world):
    engine, dataset, clips, ann = world
    at = open_page(ann.id)
    clip = clips[-1]
    clue(at, clip.id, "facial").input("something else").run()
    at.button(key=f"reset_{clip.id}_facial").click().run()
    assert clue(at, clip.id, "facial").value == f"model facial clue for {clip.name}"
    at.button(key="skip").click().run()
    assert any("Choose why you skip" in e.value for e in at.error)
    at.selectbox(key=f"skip_reason_{clip.id}").select("cant_tell").run()
    at.button(key="skip").click().run()
    assert not at.exception
    assert "Skipped" in at.info[0].value
    assert at.subheader[0].value == clips[-2].name
    with Session(engine) as session:
        stored = session.exec(select(Annotation).where(Annotation.clip_id == clip.id)).one()
    assert (stored.status, stored.skip_reason) == ("skipped", "cant_tell")


def test_signed_out_and_wrong_role(world):
    engine, *_ = world
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert "Sign in" in at.info[0].value
    (researcher,) = make_users(engine, ["res"], roles=["researcher"])
    at = open_page(researcher.id)
    assert "annotator role" in at.error[0].value


def test_the_models_own_check_and_uncertainty_show_beside_the_clues(world):
    from db.models import Prediction

    engine, dataset, clips, ann = world
    first = clips[-1]
    with Session(engine) as session:
        prediction = session.exec(select(Prediction).where(Prediction.clip_id == first.id)).one()
        prediction.spans = [{"aspect": "notes", "kind": "model_notes", "start": 0.0, "end": 0.0, "label": "",
                             "flags": {"vocal": "no loudness rise was measured"}}]
        session.add(prediction)
        session.commit()
    at = open_page(ann.id)
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "Tone & intonation: the model's own check contradicts this clue — no loudness rise was measured" in captions
    assert "Model uncertainty" in captions
