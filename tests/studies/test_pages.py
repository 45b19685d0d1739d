"""The Studies and Rate a study pages, driven through app.py: create, open, rate blind, read results."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from annotation.jobs import run_job_inline
from db.engine import get_engine
from db.models import Study, User
from db.queries.studies import study_items, study_ratings
from tests.studies.factories import build_world

ROOT = Path(__file__).resolve().parents[2]


def _app(user_id: int, page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["user_id"] = user_id
    at.run()
    return at.switch_page(str(ROOT / page)).run()


def _run_creation(at: AppTest) -> None:
    """What the worker does with the queued creation; then the page shows how it ended."""
    job = run_job_inline(at.session_state["study_create_job"])
    assert job.total == len(job.params["systems"])
    at.run()


def _world():
    with Session(get_engine(), expire_on_commit=False) as session:
        return build_world(session, clips=4, raters=0, uncovered=1, prefix="w-")


def test_researcher_creates_and_opens_a_study_then_an_annotator_rates_blind(accounts):
    world = _world()
    at = _app(accounts["researcher"], "pages/studies.py")
    assert not at.exception, at.exception
    assert at.title[0].value == "Studies"
    at.text_input(key="study_name").input("Which reasoning reads best?")
    at.multiselect(key="study_systems").set_value(world.systems)
    at.number_input(key="study_clips").set_value(9)
    at.button(key="study_create").click().run()
    _run_creation(at)
    assert [e.value for e in at.error] == [
        "only 4 clips have an output from every system (" + ", ".join(f"{s}: {n}" for s, n in
                                                                     zip(world.systems, (5, 4, 4), strict=False)) +
        "); ask for at most 4"]
    at.number_input(key="study_clips").set_value(3)
    at.button(key="study_create").click().run()
    with Session(get_engine()) as session:
        assert session.get(Study, 1) is None  # created by the job, not inside the page request
    _run_creation(at)
    assert not at.exception and not at.error, at.exception or at.error
    assert "Created the study" in at.success[0].value
    at.button(key="study_open").click().run()
    assert not at.exception, at.exception
    with Session(get_engine()) as session:
        study = session.get(Study, 1)
        assert study.status == "open"
        items = {i.id: i for i in study_items(session, study_id=study.id)}

    rater = _app(accounts["annotator"], "pages/rate_study.py")
    assert not rater.exception, rater.exception
    page_text = " ".join(str(e.value) for e in [*rater.markdown, *rater.subheader, *rater.selectbox, *rater.radio])
    assert "Output A" in page_text and "Output C" in page_text
    for name in [*world.systems, "consensus", "emer-gt", "baseline"]:
        assert name not in page_text
    radios = [r for r in rater.radio if r.key.startswith("rate_")]
    assert len(radios) == 3
    rater.button(key="rate_save").click().run()
    assert "not rated yet: Output A, Output B, Output C" in rater.warning[0].value
    radios = [r for r in rater.radio if r.key.startswith("rate_")]  # the elements of the latest run
    for radio, value in zip(radios, (4, 2, 1), strict=False):
        radio.set_value(value)
    rater.text_input(key=radios[0].key.replace("rate_", "comment_")).input("clear and right")
    rater.button(key="rate_save").click().run()
    assert not rater.exception, rater.exception
    assert not rater.warning, rater.warning[0].value
    assert "1 of 3 clips rated" in rater.get("progress")[0].proto.text
    with Session(get_engine()) as session:
        annotator = session.get(User, accounts["annotator"])
        saved = {item.id: (r.rating, r.comment, r.rater_id) for r, item in study_ratings(session, study_id=1)}
    assert sorted(v[0] for v in saved.values()) == [1, 2, 4]
    assert {v[2] for v in saved.values()} == {annotator.id}
    assert {items[i].clip_id for i in saved} == {items[next(iter(saved))].clip_id}  # one clip, all its outputs

    at = _app(accounts["researcher"], "pages/studies.py")
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "n_ratings" in d.value.columns)
    assert table["n_ratings"].tolist() == [1, 1, 1]
    assert sorted(table["mean"].tolist()) == [1.0, 2.0, 4.0]
    assert at.get("plotly_chart")
    assert "clear and right" in next(d.value for d in at.dataframe if "comment" in d.value.columns)["comment"].tolist()


def test_annotators_cannot_open_the_studies_page(accounts):
    import pytest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["user_id"] = accounts["annotator"]
    at.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(str(ROOT / "pages/studies.py"))


def _open_study(world, researcher_id: int, clips: int = 3) -> int:
    from annotation.studies import create_study, set_study_status

    with Session(get_engine(), expire_on_commit=False) as session:
        researcher = session.get(User, researcher_id)
    study = create_study(user=researcher, dataset_id=world.dataset_id, name="Back and forth", systems=world.systems,
                         clip_count=clips, seed=0)
    set_study_status(user=researcher, study_id=study.id, status="open")
    return study.id


def _rate_all(page: AppTest, values) -> None:  # noqa: ANN001
    for radio, value in zip([r for r in page.radio if r.key.startswith("rate_")], values, strict=False):
        radio.set_value(value)
    page.button(key="rate_save").click().run()
    assert not page.exception and not page.warning


def test_a_rater_goes_back_to_an_earlier_clip_and_changes_a_rating(accounts):
    study_id = _open_study(_world(), accounts["researcher"])
    rater = _app(accounts["annotator"], "pages/rate_study.py")
    assert not [b for b in rater.button if b.key == "rate_back"]  # nothing before the first clip
    first_keys = [r.key for r in rater.radio if r.key.startswith("rate_")]
    _rate_all(rater, (4, 3, 2))
    assert "1 of 3 clips rated" in rater.get("progress")[0].proto.text
    rater.button(key="rate_back").click().run()
    assert not rater.exception
    radios = [r for r in rater.radio if r.key.startswith("rate_")]
    assert [r.key for r in radios] == first_keys and [r.value for r in radios] == [4, 3, 2]
    _rate_all(rater, (1, 3, 2))
    with Session(get_engine()) as session:
        ratings = sorted(r.rating for r, _ in study_ratings(session, study_id=study_id))
    assert ratings == [1, 2, 3]  # changed, not added
    radios = [r for r in rater.radio if r.key.startswith("rate_")]
    assert [r.key for r in radios] != first_keys and all(r.value is None for r in radios)  # on to the next clip


def test_the_systems_picker_offers_no_select_all(accounts):
    _world()
    at = _app(accounts["researcher"], "pages/studies.py")
    assert at.multiselect(key="study_systems").proto.select_all == 0
