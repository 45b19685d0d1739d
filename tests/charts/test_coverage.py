"""Per-clip coverage (submitted of wanted, skips, adjudicated) and the clips filters, in SQL on both databases."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from core.vocabulary import AnnotationStatus, Coverage
from db.models import Consensus
from db.queries import clips as clip_queries
from db.queries import progress as progress_queries
from tests.annotation.factories_consensus import make_annotation, make_clip, make_dataset, make_user


@pytest.fixture
def world(db_engine):
    with Session(db_engine, expire_on_commit=False) as session:
        dataset = make_dataset(session, name="cov", overlap=3)
        people = [make_user(session, f"a{i}", "annotator") for i in range(4)]
        plan = {  # clip: (submitted, skipped, drafts, adjudicated, overlap override)
            "c0": (0, 0, 0, False, None), "c1": (1, 0, 0, False, None), "c2": (2, 1, 0, False, None),
            "c3": (3, 0, 0, False, None), "c4": (3, 0, 0, True, None), "c5": (0, 0, 1, False, None),
            "c6": (3, 0, 0, False, 4),
        }
        clips = {}
        for name, (submitted, skipped, drafts, adjudicated, override) in plan.items():
            clip = make_clip(session, dataset, name, overlap_override=override)
            clips[name] = clip.id
            statuses = ([AnnotationStatus.submitted.value] * submitted + [AnnotationStatus.skipped.value] * skipped
                        + [AnnotationStatus.draft.value] * drafts)
            for who, status in zip(people, statuses, strict=False):
                make_annotation(session, clip, who, status=status)
            if adjudicated:
                session.add(Consensus(clip_id=clip.id, emotion="happy"))
        make_clip(session, make_dataset(session, name="other"), "elsewhere")
        session.commit()
        return {"engine": db_engine, "dataset": dataset, "clips": clips}


def _names(rows) -> list[str]:
    return [row["name"] for row in rows]


def test_coverage_summary_counts_clips_by_how_far_they_got(world):
    with Session(world["engine"]) as session:
        summary = progress_queries.coverage_summary(session, dataset=world["dataset"])
    got = {(r["coverage"], r["submitted"], r["wanted"]): (r["clips"], r["with_skips"]) for r in summary}
    assert got == {
        (Coverage.none.value, 0, 3): (2, 0),  # c0 and c5 (a draft is not an annotation yet)
        (Coverage.partial.value, 1, 3): (1, 0),
        (Coverage.partial.value, 2, 3): (1, 1),
        (Coverage.complete.value, 3, 3): (1, 0),
        (Coverage.partial.value, 3, 4): (1, 0),  # its overlap was raised to 4
        (Coverage.adjudicated.value, 3, 3): (1, 0),
    }


def test_clip_coverage_filters_and_pages_in_sql(world):
    with Session(world["engine"]) as session:
        def page(**filters):
            return progress_queries.clip_coverage(session, dataset=world["dataset"], **filters)

        rows, total = page()
        assert total == 7 and _names(rows) == ["c0", "c1", "c2", "c3", "c4", "c5", "c6"]
        first = rows[2]
        assert (first["submitted"], first["skipped"], first["wanted"], first["adjudicated"]) == (2, 1, 3, False)
        assert first["coverage"] == Coverage.partial.value
        assert _names(page(state=Coverage.skipped.value)[0]) == ["c2"]
        assert _names(page(state=Coverage.adjudicated.value)[0]) == ["c4"]
        assert _names(page(state=Coverage.complete.value)[0]) == ["c3"]
        assert _names(page(state=Coverage.none.value)[0]) == ["c0", "c5"]
        assert _names(page(state=Coverage.partial.value)[0]) == ["c1", "c2", "c6"]
        rows, total = page(limit=2, offset=2)
        assert total == 7 and _names(rows) == ["c2", "c3"]


def test_clips_search_filters_by_annotation_count_and_consensus(world):
    dataset_id = world["dataset"].id
    with Session(world["engine"]) as session:
        def names(**filters):
            rows, total = clip_queries.search_clips(session, dataset_id=dataset_id, **filters)
            assert total == len(rows)
            return [c.name for c in rows]

        assert names(min_annotations=3) == ["c3", "c4", "c6"]
        assert names(min_annotations=0, max_annotations=0) == ["c0", "c5"]
        assert names(min_annotations=1, max_annotations=2) == ["c1", "c2"]
        assert names(has_consensus=True) == ["c4"]
        assert names(has_consensus=False, min_annotations=3) == ["c3", "c6"]
        rows, total = clip_queries.search_clips(session, dataset_id=dataset_id, has_consensus=False, limit=2, offset=0)
        assert total == 6 and [c.name for c in rows] == ["c0", "c1"]


def test_coverage_chart_orders_bars_and_prints_counts():
    from components.coverage_charts import coverage_chart

    summary = [
        {"coverage": "adjudicated", "submitted": 3, "wanted": 3, "clips": 4, "with_skips": 0},
        {"coverage": "partial", "submitted": 2, "wanted": 3, "clips": 5, "with_skips": 2},
        {"coverage": "none", "submitted": 0, "wanted": 3, "clips": 7, "with_skips": 1},
        {"coverage": "complete", "submitted": 3, "wanted": 3, "clips": 1, "with_skips": 0},
    ]
    figure = coverage_chart(summary)
    no_skip, skipped, totals = figure.data
    assert list(no_skip.x) == ["0 of 3", "2 of 3", "3 of 3", "adjudicated"]
    assert list(no_skip.y) == [6, 3, 1, 4] and list(skipped.y) == [1, 2, 0, 0]
    assert list(totals.text) == ["7", "5", "1", "4"]
    assert figure.layout.yaxis.range[1] > 7
