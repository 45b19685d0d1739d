"""My work in AppTest: own submissions only, versioned edits, conflicts shown, adjudicated clips locked."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from annotation.labelling.annotate import AnnotationInput, edit_submission, submit
from annotation.labelling.queue import next_clip
from core.vocabulary import ASPECTS
from db.engine import get_engine
from db.migrate import upgrade_to_head
from db.models import Annotation, Consensus
from tests.queue.factories import make_dataset, make_users

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "my_work.py")


def filled(**overrides) -> AnnotationInput:
    values = dict(clues={a.value: f"{a.value} evidence" for a in ASPECTS}, emotion="sad", rating=2)
    values.update(overrides)
    return AnnotationInput(**values)


@pytest.fixture
def world():
    engine = get_engine()
    upgrade_to_head(engine)
    dataset, clips = make_dataset(engine, clips=2, overlap=2)
    ann, bob = make_users(engine, ["ann", "bob"])
    with Session(engine, expire_on_commit=False) as session:
        for user in (ann, bob):
            clip = next_clip(session, user=user, dataset_id=dataset.id)
            submit(session, user=user, clip_id=clip.id, values=filled(note=f"by {user.username}"))
    with Session(engine) as session:
        mine = session.exec(select(Annotation).where(Annotation.user_id == ann.id)).one()
        mine_id, clip_id = mine.id, mine.clip_id
    return engine, ann, mine_id, clip_id


def open_page(user_id: int) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["user_id"] = user_id
    return at.run()


def test_concurrent_edit_is_refused_and_both_versions_kept(world):
    engine, ann, annotation_id, _ = world
    at = open_page(ann.id)
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == 1  # only Ann's own work, never Bob's
    facial = at.text_area(key=f"clue_edit{annotation_id}_facial")
    facial.input("my edit: eyes narrowed").run()

    # Meanwhile the same annotation is changed in another tab.
    with Session(engine) as session:
        version = session.get(Annotation, annotation_id).version
        edit_submission(session, user=ann, annotation_id=annotation_id, expected_version=version,
                        values=filled(clues={a.value: f"{a.value} from the other tab" for a in ASPECTS}))

    at.button(key="save_edit").click().run()
    assert not at.exception
    assert any("changed elsewhere" in e.value for e in at.error)
    assert any("facial from the other tab" in m.value for m in at.markdown)  # the saved version is shown
    assert at.text_area(key=f"clue_edit{annotation_id}_facial").value == "my edit: eyes narrowed"  # mine is kept
    with Session(engine) as session:
        stored = session.get(Annotation, annotation_id)
        assert stored.clues["facial"] == "facial from the other tab" and stored.version == version + 1

    at.button(key="conflict_keep").click().run()
    assert f"Saved (version {version + 2})" in at.success[0].value
    with Session(engine) as session:
        stored = session.get(Annotation, annotation_id)
        assert stored.clues["facial"] == "my edit: eyes narrowed" and stored.version == version + 2


def test_take_the_saved_version(world):
    engine, ann, annotation_id, _ = world
    at = open_page(ann.id)
    at.text_area(key=f"clue_edit{annotation_id}_scene").input("mine").run()
    with Session(engine) as session:
        version = session.get(Annotation, annotation_id).version
        edit_submission(session, user=ann, annotation_id=annotation_id, expected_version=version,
                        values=filled(clues={a.value: "theirs" for a in ASPECTS}))
    at.button(key="save_edit").click().run()
    at.button(key="conflict_take").click().run()
    assert at.text_area(key=f"clue_edit{annotation_id}_scene").value == "theirs"
    at.text_area(key=f"clue_edit{annotation_id}_scene").input("mine after all").run()
    at.button(key="save_edit").click().run()
    assert not at.error
    with Session(engine) as session:
        assert session.get(Annotation, annotation_id).clues["scene"] == "mine after all"


def test_adjudicated_clip_is_locked(world):
    engine, ann, annotation_id, clip_id = world
    with Session(engine) as session:
        session.add(Consensus(clip_id=clip_id, emotion="sad", source_annotation_ids=[annotation_id]))
        session.commit()
    at = open_page(ann.id)
    assert not at.exception
    assert at.dataframe[0].value["Editable"].tolist() == ["adjudicated"]
    assert not [w for w in at.text_area if w.key and w.key.startswith("clue_edit")]
