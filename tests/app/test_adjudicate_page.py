"""The adjudication page: a lead accepts a clip's consensus; an annotator is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from db.engine import get_engine
from db.migrate import upgrade_to_head
from db.models import Clip, Consensus
from db.queries.consensus import consensus_history, current_consensus
from tests.annotation.factories_consensus import (
    make_annotation,
    make_clip,
    make_dataset,
    make_prediction,
    make_user,
)

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "adjudicate.py")


@pytest.fixture
def world():
    st.cache_data.clear()  # cached views from another test's database must not leak in
    engine = get_engine()
    upgrade_to_head(engine)
    with Session(engine) as session:
        lead = make_user(session, "lead", "lead")
        annotator = make_user(session, "ann0", "annotator")
        others = [annotator, make_user(session, "ann1", "annotator"), make_user(session, "ann2", "annotator")]
        dataset = make_dataset(session, name="pilot", overlap=3)
        clip = make_clip(session, dataset, "clip-7", transcript="I can't believe it.")
        make_prediction(session, clip, {"facial": "He looks calm.", "verbal": "He says he can't believe it."})
        for who, emotion in zip(others, ["surprise", "surprise", "happy"], strict=False):
            make_annotation(session, clip, who, emotion=emotion, rating=3,
                            clues={"facial": "His eyes widen and his mouth opens.",
                                   "verbal": "He says he can't believe it."},
                            note="clear case" if who is annotator else "")
        session.commit()
        return {"lead": lead.id, "annotator": annotator.id, "clip": clip.id, "sources": len(others)}


def run_page(user_id: int) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["user_id"] = user_id
    return at.run()


def test_lead_accepts_the_proposal_and_the_consensus_keeps_its_sources(world):
    at = run_page(world["lead"])
    assert not at.exception
    assert "clip-7" in " ".join(m.value for m in at.markdown)
    assert at.selectbox(key=f"adjudicate.{world['clip']}.emotion").value == "surprise"
    facial = at.text_area(key=f"adjudicate.{world['clip']}.facial").value
    assert facial == "His eyes widen and his mouth opens."  # three identical clues: proposed as written
    at.button(key="adjudicate.accept").click().run()
    assert not at.exception
    with Session(get_engine()) as session:
        row = current_consensus(session, clip_id=world["clip"])
        assert row is not None and row.emotion == "surprise" and row.accepted_by_id == world["lead"]
        assert len(row.source_annotation_ids) == world["sources"]
        assert row.clues["facial"] == facial
    assert "No clip is waiting" in " ".join(s.value for s in at.success)


def test_lead_edits_and_accepts_then_sends_back(world):
    at = run_page(world["lead"])
    at.selectbox(key=f"adjudicate.{world['clip']}.emotion").set_value("happy")
    at.text_area(key=f"adjudicate.{world['clip']}.scene").input("A quiet kitchen.")
    at.button(key="adjudicate.accept_edits").click().run()
    assert not at.exception
    with Session(get_engine()) as session:
        row = current_consensus(session, clip_id=world["clip"])
        assert row.emotion == "happy" and row.clues["scene"] == "A quiet kitchen." and row.method.endswith("+edited")


def test_send_back_raises_the_clip_overlap(world):
    at = run_page(world["lead"])
    at.number_input(key="adjudicate.extra").set_value(2)
    at.button(key="adjudicate.send_back").click().run()
    assert not at.exception
    with Session(get_engine()) as session:
        assert session.get(Clip, world["clip"]).overlap_override == 5
        assert consensus_history(session, clip_id=world["clip"]) == []


def test_an_annotator_is_refused(world):
    from annotation.labelling.adjudication import accept, propose, send_back
    from annotation.permissions import PermissionDenied
    from db.models import User

    at = run_page(world["annotator"])
    assert not at.exception
    assert "for leads" in at.error[0].value
    assert not at.button
    with Session(get_engine()) as session:  # hiding the page is not the check: the domain refuses too
        annotator = session.get(User, world["annotator"])
        with pytest.raises(PermissionDenied):
            accept(session, user=annotator, proposal=propose(session, clip_id=world["clip"]))
        with pytest.raises(PermissionDenied):
            send_back(session, user=annotator, clip_id=world["clip"])
        assert session.query(Consensus).count() == 0


def test_signed_out_visitor_is_refused(world):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert "for leads" in at.error[0].value


def test_a_decision_made_meanwhile_is_not_overwritten(world):
    from annotation.labelling.adjudication import accept, propose
    from db.models import User

    at = run_page(world["lead"])
    with Session(get_engine()) as session:  # another lead decides while this page is open
        other = make_user(session, "lead2", "lead")
        accept(session, user=other, proposal=propose(session, clip_id=world["clip"]), emotion="happy")
        session.commit()
    at.button(key="adjudicate.accept").click().run()
    assert not at.exception
    assert "changed since it was opened" in at.error[0].value
    with Session(get_engine()) as session:
        history = consensus_history(session, clip_id=world["clip"])
        assert len(history) == 1 and history[0].emotion == "happy"
        assert session.get(User, history[0].accepted_by_id).username == "lead2"


def test_diff_html_escapes_and_marks_changes():
    from components.diff_view import diff_html

    marked = diff_html("He looks calm.", "He looks <b>angry</b>.")
    assert "&lt;" in marked and "<b>" not in marked
    assert "<ins" in marked and "<del" in marked and "calm" in marked
    assert diff_html("他很平静。", "他很生气。").count("<ins") == 1
    assert diff_html("", "") == "<em>(empty)</em>"


def test_next_and_previous_walk_the_queue(world):
    with Session(get_engine()) as session:
        from db.models import Dataset, User

        dataset = session.query(Dataset).one()
        clip = make_clip(session, dataset, "clip-8")
        for user in session.query(User).filter(User.username.like("ann%")):
            make_annotation(session, clip, user, emotion="sad", clues={"facial": "He cries."})
        session.commit()
    at = run_page(world["lead"])
    first = next(m.value for m in at.markdown if "waiting" in m.value)
    assert "1 of 2 waiting" in first
    at.button(key="adjudicate.next").click().run()
    second = next(m.value for m in at.markdown if "waiting" in m.value)
    assert "2 of 2 waiting" in second and second.split("**")[1] != first.split("**")[1]
    at.button(key="adjudicate.prev").click().run()
    assert next(m.value for m in at.markdown if "waiting" in m.value) == first


def test_lead_takes_the_llm_merge_for_one_aspect(world, llm_server):
    from tests.model.fake_openai_server import Reply

    llm_server.script(Reply(contents=["The person opens the eyes wide and the mouth falls open."]),
                      step="clue-merge", clip="facial")
    at = run_page(world["lead"])
    at.button(key=f"adjudicate.{world['clip']}.llm_merge.ask").click().run()
    assert not at.exception
    assert len(llm_server.seen(step="clue-merge")) >= 1
    at.button(key=f"adjudicate.{world['clip']}.llm_merge.facial.use").click().run()
    assert at.text_area(key=f"adjudicate.{world['clip']}.facial").value == \
        "The person opens the eyes wide and the mouth falls open."
    at.button(key="adjudicate.accept_edits").click().run()
    assert not at.exception
    with Session(get_engine()) as session:
        row = current_consensus(session, clip_id=world["clip"])
        assert row.clues["facial"] == "The person opens the eyes wide and the mouth falls open."


def test_accept_confirms_next_to_the_buttons_and_undo_takes_it_back(world):
    from db.models import AuditLog

    at = run_page(world["lead"])
    at.button(key="adjudicate.accept").click().run()
    assert not at.exception
    assert any("Consensus stored for clip-7" in t.value for t in at.toast)
    stored = [s.value for s in at.success if "Consensus stored for" in s.value]
    assert stored and "clip-7" in stored[0]
    with Session(get_engine()) as session:
        assert current_consensus(session, clip_id=world["clip"]) is not None
    at.button(key="adjudicate.undo").click().run()
    assert not at.exception
    with Session(get_engine()) as session:
        assert current_consensus(session, clip_id=world["clip"]) is None
        assert session.query(AuditLog).filter(AuditLog.action == "consensus.undo").count() == 1
    assert "1 of 1 waiting" in next(m.value for m in at.markdown if "waiting" in m.value)
    assert not [b for b in at.button if b.key == "adjudicate.undo"]


def test_undo_is_refused_once_a_model_was_trained_on_it(world):
    from db.models import ModelVersion

    at = run_page(world["lead"])
    at.button(key="adjudicate.accept").click().run()
    with Session(get_engine()) as session:
        row = current_consensus(session, clip_id=world["clip"])
        session.add(ModelVersion(backend="baseline", name="trained-v1", snapshot={"consensus_ids": [row.id]}))
        session.commit()
    at.button(key="adjudicate.undo").click().run()
    assert not at.exception
    assert any("trained-v1" in e.value for e in at.error)
    with Session(get_engine()) as session:
        assert current_consensus(session, clip_id=world["clip"]) is not None


def test_captions_are_plain_words(world):
    at = run_page(world["lead"])
    captions = " ".join(c.value for c in at.caption)
    assert "point(s)" not in captions and "majority support" not in captions
    assert "most annotators agree on" in captions
    assert "Alt+J" in captions  # the keyboard shortcuts are announced


def test_the_queue_is_fresh_when_the_auto_accept_job_ends(world):
    from annotation.jobs import run_job_inline
    from db.models import Dataset

    with Session(get_engine()) as session:
        dataset = session.query(Dataset).one()
        dataset.settings = {"auto_accept_posterior": 0.5}
        session.add(dataset)
        session.commit()
    at = run_page(world["lead"])
    assert "1 of 1 waiting" in next(m.value for m in at.markdown if "waiting" in m.value)
    at.button(key="adjudicate.auto").click().run()
    job_id = at.session_state["adjudicate.auto_job"]
    assert run_job_inline(job_id).state == "done"
    at.run()
    assert not at.exception
    with Session(get_engine()) as session:
        assert current_consensus(session, clip_id=world["clip"]).auto_accepted
    assert "No clip is waiting" in " ".join(s.value for s in at.success)
