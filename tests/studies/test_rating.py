"""Raters see outputs blind and counterbalanced; ratings are their own and stop when a study closes."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter

import pytest
from sqlmodel import Session, select

from annotation.permissions import PermissionDenied
from annotation.studies import (
    StudyError,
    blind_clip,
    clip_order,
    create_study,
    next_items_for,
    rate,
    set_study_status,
    system_order,
    williams_rows,
)
from db.models import Study, User
from db.queries.studies import study_items, study_ratings
from tests.studies.factories import build_world


def _open_study(session, world, clip_count=8, **settings):
    study = create_study(session, user=world.researcher, dataset_id=world.dataset_id, name="s",
                         systems=world.systems, clip_count=clip_count, seed=3, **settings)
    set_study_status(session, user=world.researcher, study_id=study.id, status="open")
    session.commit()
    return study


def test_no_system_name_reaches_the_rater(session, world):
    study = _open_study(session, world)
    items = {i.id: i for i in study_items(session, study_id=study.id)}
    forbidden = set(world.systems) | {"model", "consensus", "reference", "emer-gt", "baseline"}
    for rater in world.raters:
        for clip_id in world.clip_ids:
            shown = blind_clip(session, user=rater, study_id=study.id, clip_id=clip_id)
            text = repr(dataclasses.asdict(shown))
            assert not [word for word in forbidden if word in text], text
            assert [o.label for o in shown.outputs] == ["Output A", "Output B", "Output C"]
            assert sorted(items[o.item_id].system for o in shown.outputs) == sorted(world.systems)


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_each_system_lands_in_each_position_about_equally(k):
    study = Study(id=11, name="s", systems=[f"s{i}" for i in range(k)], settings={"seed": 5})
    clips = list(range(100, 130))
    counts = Counter()
    orders = set()
    for rater in range(40):
        for rank, _clip in enumerate(clip_order(study, rater, clips)):
            order = system_order(study, rater, rank)
            orders.add(tuple(order))
            counts.update((system, position) for position, system in enumerate(order))
    expected = 40 * 30 / k
    assert set(counts) == {(s, p) for s in range(k) for p in range(k)}
    assert all(abs(n - expected) <= 0.05 * expected for n in counts.values()), counts
    assert len(orders) >= min(math.factorial(k), k + 1)  # shuffled per rater, not one square for everyone
    # Within one rater, every block of K clips puts each system in each position once.
    for start in range(0, 30 - k, k):
        for position in range(k):
            assert {system_order(study, 7, rank)[position] for rank in range(start, start + k)} == set(range(k))


@pytest.mark.parametrize("k", [2, 3, 4, 5, 6])
def test_williams_rows_balance_positions_and_what_follows_what(k):
    rows = williams_rows(k)
    assert len(rows) == (k if k % 2 == 0 else 2 * k)
    for block in (rows[:k], rows[k:]) if k % 2 else (rows,):
        assert all(sorted(row) == list(range(k)) for row in block)
        assert all(sorted(column) == list(range(k)) for column in zip(*block, strict=False))
    follows = Counter((a, b) for row in rows for a, b in zip(row, row[1:], strict=False))
    assert set(follows) == {(a, b) for a in range(k) for b in range(k) if a != b}
    assert len(set(follows.values())) == 1


def test_clip_order_is_shuffled_per_rater(session, world):
    study = _open_study(session, world)
    orders = {tuple(clip_order(study, r.id, world.clip_ids)) for r in world.raters}
    assert len(orders) > 1


def test_next_clip_advances_and_rerating_updates_only_ones_own_row(session, world):
    study = _open_study(session, world, clip_count=2)
    alice, bob = world.raters[0], world.raters[1]
    first = next_items_for(session, user=alice, study_id=study.id)
    assert (first.clips_done, first.clips_total) == (0, 2)
    for output in first.outputs:
        rate(session, user=alice, item_id=output.item_id, rating=3, comment="fine")
        rate(session, user=bob, item_id=output.item_id, rating=1)
    session.commit()
    second = next_items_for(session, user=alice, study_id=study.id)
    assert second.clip_id != first.clip_id and second.clips_done == 1
    rate(session, user=alice, item_id=first.outputs[0].item_id, rating=4, comment="better than I said")
    session.commit()
    by_rater = Counter((r.rater_id, r.rating) for r, _ in study_ratings(session, study_id=study.id))
    assert by_rater == Counter({(alice.id, 3): 2, (alice.id, 4): 1, (bob.id, 1): 3})
    again = blind_clip(session, user=alice, study_id=study.id, clip_id=first.clip_id)
    assert {o.item_id: (o.rating, o.comment) for o in again.outputs}[first.outputs[0].item_id] == \
        (4, "better than I said")
    for output in second.outputs:
        rate(session, user=alice, item_id=output.item_id, rating=2)
    assert next_items_for(session, user=alice, study_id=study.id) is None


def test_closed_studies_and_strangers_are_refused(session, world):
    study = _open_study(session, world, clip_count=2, raters=[world.raters[0].id])
    outsider = world.raters[1]
    item = next_items_for(session, user=world.raters[0], study_id=study.id).outputs[0]
    with pytest.raises(PermissionDenied, match="not a rater"):
        rate(session, user=outsider, item_id=item.item_id, rating=2)
    with pytest.raises(StudyError, match="one of"):
        rate(session, user=world.raters[0], item_id=item.item_id, rating=5)
    rate(session, user=world.raters[0], item_id=item.item_id, rating=2)
    set_study_status(session, user=world.lead, study_id=study.id, status="closed")
    session.commit()
    with pytest.raises(StudyError, match="closed"):
        rate(session, user=world.raters[0], item_id=item.item_id, rating=4)
    with pytest.raises(StudyError, match="closed"):
        next_items_for(session, user=world.raters[0], study_id=study.id)
    assert [r.rating for r, _ in study_ratings(session, study_id=study.id)] == [2]


def test_a_rater_of_one_study_cannot_rate_another_closed_study(session, world):
    open_study = _open_study(session, world, clip_count=2)
    closed = _open_study(session, world, clip_count=2)
    set_study_status(session, user=world.researcher, study_id=closed.id, status="closed")
    other_item = study_items(session, study_id=closed.id)[0]
    rater = world.raters[0]
    assert next_items_for(session, user=rater, study_id=open_study.id) is not None
    with pytest.raises(StudyError, match="closed"):
        rate(session, user=rater, item_id=other_item.id, rating=3)


def test_inactive_or_roleless_users_cannot_rate(session):
    world = build_world(session, clips=2, raters=1, uncovered=0)
    study = _open_study(session, world, clip_count=2)
    nobody = User(username="guest", password_hash="x", roles=[])
    session.add(nobody)
    session.flush()
    with pytest.raises(PermissionDenied):
        next_items_for(session, user=nobody, study_id=study.id)


@pytest.mark.postgres
def test_the_same_rater_saving_from_two_tabs_at_once_keeps_one_row(postgres_engine):
    """Both saves succeed; whichever lands second becomes an update, never a constraint error."""
    import threading

    from db.models import StudyRating
    from db.queries.studies import save_rating

    with Session(postgres_engine, expire_on_commit=False) as setup:
        world = build_world(setup)
        study = _open_study(setup, world, clip_count=2)
        items = [o.item_id for o in next_items_for(setup, user=world.raters[0], study_id=study.id).outputs]
        setup.commit()
    rater_id = world.raters[0].id
    for item_id in items:
        gate, failures = threading.Barrier(2), []

        def save(rating: int, gate=gate, item_id=item_id, failures=failures) -> None:
            try:
                with Session(postgres_engine) as tab:
                    gate.wait()
                    save_rating(tab, item_id=item_id, rater_id=rater_id, rating=rating, comment=f"tab {rating}")
                    tab.commit()
            except Exception as error:  # noqa: BLE001 — the test reports any failure
                failures.append(error)

        tabs = [threading.Thread(target=save, args=(r,)) for r in (2, 4)]
        for tab in tabs:
            tab.start()
        for tab in tabs:
            tab.join()
        assert failures == []
        with Session(postgres_engine) as check:
            rows = check.exec(select(StudyRating).where(StudyRating.study_item_id == item_id,
                                                        StudyRating.rater_id == rater_id)).all()
            assert len(rows) == 1 and rows[0].rating in (2, 4) and rows[0].comment == f"tab {rows[0].rating}"
