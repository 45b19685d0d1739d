"""The lead's assignments page in AppTest: role check, settings, named assignments, progress."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from db.engine import get_engine
from db.migrate import upgrade_to_head
from db.models import Assignment, Clip, Dataset
from tests.queue.factories import make_dataset, make_users

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "assignments.py")


def open_page(user_id: int) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["user_id"] = user_id
    return at.run()


def test_lead_assigns_clips_and_changes_settings():
    engine = get_engine()
    upgrade_to_head(engine)
    dataset, clips = make_dataset(engine, clips=4, overlap=1)
    (lead,) = make_users(engine, ["lead"], roles=["lead"])
    ann, bob = make_users(engine, ["ann", "bob"])

    annotator_page = open_page(ann.id)
    assert "managed by a lead" in annotator_page.error[0].value

    at = open_page(lead.id)
    assert not at.exception
    at.number_input(key="assign_overlap").set_value(2)
    at.selectbox(key="assign_strategy").select("sequential")
    at.button[0].click().run()  # Save settings
    assert not at.exception and at.success
    with Session(engine) as session:
        stored = session.get(Dataset, dataset.id)
        assert (stored.overlap, stored.strategy) == (2, "sequential")

    at.multiselect(key="assign_annotators").select(ann.id).select(bob.id)
    at.text_area(key="assign_clips").input(f"{clips[0].name}\nno-such-clip")
    at.button[1].click().run()
    assert "No clip named: no-such-clip" in at.error[0].value

    at.text_area(key="assign_clips").input(f"{clips[0].name}\n{clips[1].name}")
    at.checkbox(key="assign_override").check()
    at.number_input(key="assign_override_value").set_value(3)
    at.button[1].click().run()
    assert "4 assignment(s) made" in at.success[0].value
    with Session(engine) as session:
        rows = session.exec(select(Assignment)).all()
        assert {(a.clip_id, a.user_id) for a in rows} == {(c.id, u.id) for c in clips[:2] for u in (ann, bob)}
        assert all(a.assigned_by_id == lead.id and a.expires_at is None for a in rows)
        assert session.get(Clip, clips[0].id).overlap_override == 3
    table = at.dataframe[0].value
    assert table["Leased now"].tolist() == [2, 2]
