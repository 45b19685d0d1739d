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


# --- messages where the annotator looks, undo, previous clip ----------------------------------


def in_order(node) -> list:
    """The page's elements in the order they are drawn."""
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        return [leaf for index in sorted(children) for leaf in in_order(children[index])]
    return [node]


def position(at: AppTest, found) -> int:
    elements = in_order(at.main)
    return next(i for i, e in enumerate(elements) if e is found)


def test_refusals_show_next_to_the_buttons_and_as_a_toast(world):
    engine, dataset, clips, ann = world
    at = open_page(ann.id)
    at.button(key="emo_0").click().run()
    at.button(key="submit").click().run()
    refusal = next(e for e in at.error if "Not submitted yet" in e.value)
    assert position(at, refusal) > position(at, at.button(key="submit"))
    assert any("Not submitted yet" in t.value for t in at.toast)

    at.button(key="skip").click().run()
    refusal = next(e for e in at.error if "Choose why you skip" in e.value)
    assert position(at, refusal) > position(at, at.button(key="skip"))
    assert any("Choose why you skip" in t.value for t in at.toast)


def submit_filled(at: AppTest, emotion_button: str = "emo_1", rating_button: str = "rate_2") -> None:
    at.button(key=emotion_button).click().run()
    at.button(key=rating_button).click().run()
    at.button(key="submit").click().run()
    assert not at.exception


def test_undo_takes_the_submission_back_and_shows_the_clip_again(world):
    engine, dataset, clips, ann = world
    at = open_page(ann.id)
    first = clips[-1]
    clue(at, first.id, "facial").input("my own words").run()
    submit_filled(at)
    assert at.subheader[0].value == clips[-2].name
    submitted = next(s for s in at.success if f"Submitted {first.name}" in s.value)
    assert position(at, submitted) > position(at, at.button(key="submit"))
    assert any(f"Submitted {first.name}" in t.value for t in at.toast)

    at.button(key="undo_submit").click().run()
    assert not at.exception
    assert at.subheader[0].value == first.name  # the clip is shown again, with what was submitted
    assert clue(at, first.id, "facial").value == "my own words"
    assert any("draft again" in i.value for i in at.info)
    with Session(engine) as session:
        stored = session.exec(select(Annotation).where(Annotation.clip_id == first.id)).one()
    assert (stored.status, stored.submitted_at) == ("draft", None)

    submit_filled(at, "emo_2", "rate_4")
    assert at.subheader[0].value == clips[-2].name
    with Session(engine) as session:
        stored = session.exec(select(Annotation).where(Annotation.clip_id == first.id)).one()
    assert (stored.status, stored.emotion, stored.rating, stored.clues["facial"]) == (
        "submitted", "happy", 4, "my own words")


def test_undo_is_refused_once_the_clip_is_adjudicated(world):
    from db.models import Consensus

    engine, dataset, clips, ann = world
    at = open_page(ann.id)
    first = clips[-1]
    submit_filled(at)
    with Session(engine) as session:
        session.add(Consensus(clip_id=first.id, emotion="happy"))
        session.commit()
    at.button(key="undo_submit").click().run()
    assert any("adjudicated" in e.value for e in at.error)
    assert at.subheader[0].value == clips[-2].name
    with Session(engine) as session:
        assert session.exec(select(Annotation).where(Annotation.clip_id == first.id)).one().status == "submitted"


def test_previous_clip_edits_the_latest_submission_until_adjudicated(world):
    from db.models import Consensus

    engine, dataset, clips, ann = world
    at = open_page(ann.id)
    first, second = clips[-1], clips[-2]
    submit_filled(at)
    assert at.subheader[0].value == second.name
    assert at.button(key="previous_clip").value is False
    at.button(key="previous_clip").click().run()
    assert not at.exception
    assert at.subheader[0].value == f"Previous: {first.name}"
    with Session(engine) as session:
        row = session.exec(select(Annotation).where(Annotation.clip_id == first.id)).one()
    fid = f"prev{row.id}"
    assert clue(at, fid, "facial").value == f"model facial clue for {first.name}"
    clue(at, fid, "facial").input("corrected later").run()
    at.button(key="rate_4").click().run()
    at.button(key="previous_save").click().run()
    assert not at.exception
    assert any("Saved" in s.value for s in at.success)
    with Session(engine) as session:
        stored = session.get(Annotation, row.id)
    assert (stored.clues["facial"], stored.rating, stored.status) == ("corrected later", 4, "submitted")
    assert stored.version == row.version + 1

    # Someone else's change meanwhile (another tab): the save is refused as stale.
    with Session(engine) as session:
        other = session.get(Annotation, row.id)
        other.note, other.version = "other tab", other.version + 1
        session.add(other)
        session.commit()
    clue(at, fid, "facial").input("third try").run()
    at.button(key="previous_save").click().run()
    assert any("changed elsewhere" in e.value for e in at.error)

    # After adjudication the clip is frozen: a clear refusal, and the form is read-only.
    at.button(key="previous_reload").click().run()
    assert clue(at, fid, "facial").value == "corrected later"  # the stored version
    clue(at, fid, "facial").input("after the consensus").run()
    with Session(engine) as session:
        session.add(Consensus(clip_id=first.id, emotion="happy"))
        session.commit()
    at.button(key="previous_save").click().run()  # the form was open before the adjudication
    assert any("Not saved" in e.value and "adjudicated" in e.value for e in at.error)
    with Session(engine) as session:
        assert session.get(Annotation, row.id).clues["facial"] == "corrected later"
    assert any("adjudicated" in i.value for i in at.info)
    assert at.button(key="previous_save").disabled

    at.button(key="back_to_queue").click().run()
    assert at.subheader[0].value == second.name


def shortcut_bindings(at: AppTest) -> dict[str, str]:
    import json

    found = [e for e in in_order(at.main)
             if e.type == "bidi_component" and e.proto.component_name == "cluelab_shortcuts"]
    assert len(found) == 1, "one shortcuts component per page"
    return dict(json.loads(found[0].proto.json)["bindings"])


def test_every_advertised_shortcut_is_bound_to_a_button_on_every_clip(world):
    engine, dataset, clips, ann = world
    at = open_page(ann.id)
    for _ in range(2):  # the first clip, and the next one after a submit
        bindings = shortcut_bindings(at)
        assert bindings["submit"] == "ctrl+enter" and bindings["skip"] == "alt+k"
        assert [bindings[f"rate_{v}"] for v in (1, 2, 3, 4)] == ["alt+q", "alt+w", "alt+e", "alt+r"]
        assert bindings["emo_0"] == "alt+1"
        buttons = {b.key for b in at.button}
        assert set(bindings) <= buttons
        submit_filled(at)


def test_shortcut_combinations_are_checked():
    from components.shortcuts import check

    assert check(" Ctrl+Enter ") == "ctrl+enter" and check("alt+1") == "alt+1" and check("alt+shift+k") == "alt+shift+k"
    for bad in ("", "alt+", "ctrl+enter+1", "hyper+k", "alt+F13"):
        with pytest.raises(ValueError):
            check(bad)
