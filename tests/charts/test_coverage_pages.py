"""The assignments page's per-clip coverage and the clips page's annotation and consensus filters (AppTest)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from core.vocabulary import AnnotationStatus
from db.engine import get_engine
from db.migrate import upgrade_to_head
from db.models import Consensus
from tests.annotation.factories_consensus import make_annotation, make_clip, make_dataset, make_user

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def world():
    engine = get_engine()
    upgrade_to_head(engine)
    with Session(engine, expire_on_commit=False) as session:
        lead = make_user(session, "lead", "lead")
        people = [make_user(session, f"a{i}", "annotator") for i in range(3)]
        dataset = make_dataset(session, name="cov", overlap=3)
        for n, (submitted, skipped, adjudicated) in enumerate([(0, 0, False), (1, 0, False), (2, 1, False),
                                                                (3, 0, False), (3, 0, True)]):
            clip = make_clip(session, dataset, f"c{n}")
            statuses = [AnnotationStatus.submitted.value] * submitted + [AnnotationStatus.skipped.value] * skipped
            for who, status in zip(people, statuses, strict=False):
                make_annotation(session, clip, who, status=status)
            if adjudicated:
                session.add(Consensus(clip_id=clip.id, emotion="happy"))
        session.commit()
        return {"lead": lead.id, "annotator": people[0].id}


def _open(page: str, user_id: int) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=60)
    at.session_state["user_id"] = user_id
    return at.run()


def test_assignments_page_shows_coverage_chart_and_filterable_table(world):
    at = _open("assignments.py", world["lead"])
    assert not at.exception, at.exception
    charts = [c for c in at.get("plotly_chart") if c.key == "assign_coverage_chart"]
    assert len(charts) == 1
    figure = json.loads(charts[0].proto.spec)
    assert figure["data"][0]["x"] == ["0 of 3", "1 of 3", "2 of 3", "3 of 3", "adjudicated"]
    table = next(d for d in at.dataframe if "Coverage" in d.value.columns)
    assert table.value["Clip"].tolist() == ["c0", "c1", "c2", "c3", "c4"]
    at.selectbox(key="assign_coverage_filter").select("skipped").run()
    table = next(d for d in at.dataframe if "Coverage" in d.value.columns)
    assert table.value["Clip"].tolist() == ["c2"]
    assert table.value.iloc[0]["Submitted"] == "2 of 3" and table.value.iloc[0]["Skipped"] == 1
    at.selectbox(key="assign_coverage_filter").select("complete").run()
    table = next(d for d in at.dataframe if "Coverage" in d.value.columns)
    assert table.value["Clip"].tolist() == ["c3"]


def test_clips_page_filters_by_annotations_and_consensus(world):
    at = _open("clips.py", world["lead"])
    assert not at.exception, at.exception
    at.selectbox(key="clips_annotations").select("3 or more").run()
    assert at.dataframe[0].value["name"].tolist() == ["c3", "c4"]
    at.selectbox(key="clips_consensus").select("no consensus").run()
    assert at.dataframe[0].value["name"].tolist() == ["c3"]
    at.selectbox(key="clips_annotations").select("none").run()
    assert at.dataframe[0].value["name"].tolist() == ["c0"]
    assert "1 clip(s) match" in " ".join(c.value for c in at.caption)


def test_clips_table_shows_each_clips_annotations_and_consensus_with_readable_names(world):
    at = _open("clips.py", world["lead"])
    assert not at.exception, at.exception
    frame = at.dataframe[0]
    table = frame.value
    assert table["annotations"].tolist() == [0, 1, 2, 3, 3]
    assert table["consensus"].tolist() == ["no", "no", "no", "no", "yes"]
    labels = {column: config.get("label") for column, config in json.loads(frame.proto.columns).items()}
    assert labels["annotations"] == "Annotations" and labels["duration (s)"] == "Duration (s)"
    assert labels["name"] == "Clip"
