"""Queue properties on SQLite and PostgreSQL: overlap, no repeats, leases, strategies, concurrency."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from annotation.labelling.annotate import AnnotationInput, LeaseLost, skip, submit
from annotation.labelling.queue import assign_clips, dataset_progress, next_clip, set_overlap
from annotation.permissions import PermissionDenied
from core.vocabulary import ASPECTS, AnnotationStatus, ClipStatus
from db.models import Annotation, Assignment, utcnow
from tests.queue.factories import make_dataset, make_users


def filled(**overrides) -> AnnotationInput:
    values = dict(clues={a.value: f"{a.value} evidence" for a in ASPECTS}, emotion="happy", rating=3, confidence=4)
    values.update(overrides)
    return AnnotationInput(**values)


def test_twenty_threads_fill_every_clip_exactly_to_overlap(db_engine):
    dataset, clips = make_dataset(db_engine, clips=30, overlap=3)
    users = make_users(db_engine, [f"a{i:02d}" for i in range(20)])
    errors: list[BaseException] = []
    served: dict[int, list[int]] = {u.id: [] for u in users}
    start = threading.Barrier(len(users))

    def work(user):
        try:
            start.wait()
            while True:
                with Session(db_engine, expire_on_commit=False) as session:
                    clip = next_clip(session, user=user, dataset_id=dataset.id)
                    if clip is None:
                        return
                    served[user.id].append(clip.id)
                    submit(session, user=user, clip_id=clip.id, values=filled(), seconds_spent=1.0)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    for user_clips in served.values():
        assert len(user_clips) == len(set(user_clips)), "a user was served the same clip twice"
    with Session(db_engine) as session:
        per_clip = Counter(session.exec(
            select(Annotation.clip_id).where(Annotation.status == AnnotationStatus.submitted.value)).all())
        leases = session.exec(select(Assignment)).all()
    assert per_clip == {c.id: 3 for c in clips}
    assert sum(len(v) for v in served.values()) == 90
    assert all(a.state == "done" for a in leases) and len(leases) == 90


def test_resume_returns_the_held_clip_and_skips_done_ones(db_engine):
    dataset, clips = make_dataset(db_engine, clips=3, overlap=2)
    (ann,) = make_users(db_engine, ["ann"])
    with Session(db_engine) as session:
        first = next_clip(session, user=ann, dataset_id=dataset.id)
        assert next_clip(session, user=ann, dataset_id=dataset.id).id == first.id
        submit(session, user=ann, clip_id=first.id, values=filled())
        second = next_clip(session, user=ann, dataset_id=dataset.id)
        skip(session, user=ann, clip_id=second.id, reason="bad_media")
        third = next_clip(session, user=ann, dataset_id=dataset.id)
        assert len({first.id, second.id, third.id}) == 3
        submit(session, user=ann, clip_id=third.id, values=filled())
        assert next_clip(session, user=ann, dataset_id=dataset.id) is None
        # The skip freed its slot for someone else and was counted.
        (bob,) = make_users(db_engine, ["bob"])
        got = {next_clip(session, user=bob, dataset_id=dataset.id).id}
        assert second.id in got or session.exec(select(Assignment).where(Assignment.clip_id == second.id,
                                                                         Assignment.state == "done")).first() is None
        skipped = session.exec(select(Annotation).where(Annotation.status == "skipped")).one()
        assert skipped.skip_reason == "bad_media"


def test_expired_lease_returns_to_the_pool(db_engine):
    dataset, (clip,) = make_dataset(db_engine, clips=1, overlap=1)
    ann, bob = make_users(db_engine, ["ann", "bob"])
    with Session(db_engine) as session:
        assert next_clip(session, user=ann, dataset_id=dataset.id).id == clip.id
        assert next_clip(session, user=bob, dataset_id=dataset.id) is None
        session.execute(sa.update(Assignment).values(expires_at=utcnow() - timedelta(minutes=1)))
        session.commit()
        assert next_clip(session, user=bob, dataset_id=dataset.id).id == clip.id
        # Ann comes back too late: the slot is Bob's now, and her work is refused, not merged.
        with pytest.raises(LeaseLost):
            submit(session, user=ann, clip_id=clip.id, values=filled())
        submit(session, user=bob, clip_id=clip.id, values=filled())


def test_expired_lease_can_still_be_submitted_while_the_slot_is_free(db_engine):
    dataset, (clip,) = make_dataset(db_engine, clips=1, overlap=1)
    (ann,) = make_users(db_engine, ["ann"])
    with Session(db_engine) as session:
        next_clip(session, user=ann, dataset_id=dataset.id)
        session.execute(sa.update(Assignment).values(expires_at=utcnow() - timedelta(minutes=1)))
        session.commit()
        submit(session, user=ann, clip_id=clip.id, values=filled())
        assert session.exec(select(Assignment.state)).one() == "done"


def test_strategies_order_the_queue(db_engine):
    unc, unc_clips = make_dataset(db_engine, clips=5, overlap=1, name="u")
    seq, seq_clips = make_dataset(db_engine, clips=5, overlap=1, name="s", strategy="sequential",
                                  with_predictions=False)
    rnd, rnd_clips = make_dataset(db_engine, clips=8, overlap=1, name="r", strategy="random",
                                  settings={"random_seed": 7}, with_predictions=False)
    users = make_users(db_engine, ["a", "b"])
    with Session(db_engine) as session:
        # Least certain first: the factory gives the last clip the highest uncertainty.
        assert next_clip(session, user=users[0], dataset_id=unc.id).id == unc_clips[-1].id
        assert next_clip(session, user=users[1], dataset_id=unc.id).id == unc_clips[-2].id
        assert next_clip(session, user=users[0], dataset_id=seq.id).id == seq_clips[0].id
        served = []
        for _ in rnd_clips:
            clip = next_clip(session, user=users[0], dataset_id=rnd.id)
            served.append(clip.id)
            submit(session, user=users[0], clip_id=clip.id, values=filled())
    # Seeded: the order is a fixed shuffle of the clips, not their id order.
    expected = sorted((c.id for c in rnd_clips), key=lambda i: ((i * 2654435761 + 7) % 4294967291, i))
    assert served == expected and served != sorted(served)


def test_only_ready_clips_are_served(db_engine):
    dataset, clips = make_dataset(db_engine, clips=3, overlap=1,
                                  statuses=[ClipStatus.pending.value, ClipStatus.error.value, ClipStatus.ready.value])
    (ann,) = make_users(db_engine, ["ann"])
    with Session(db_engine) as session:
        assert next_clip(session, user=ann, dataset_id=dataset.id).id == clips[2].id
        submit(session, user=ann, clip_id=clips[2].id, values=filled())
        assert next_clip(session, user=ann, dataset_id=dataset.id) is None


def test_clip_overlap_override_and_lead_controls(db_engine):
    dataset, clips = make_dataset(db_engine, clips=2, overlap=1)
    (lead,) = make_users(db_engine, ["lead"], roles=["lead"])
    ann, bob, cy = make_users(db_engine, ["ann", "bob", "cy"])
    with Session(db_engine) as session:
        with pytest.raises(PermissionDenied):
            set_overlap(session, user=ann, dataset_id=dataset.id, overlap=2)
        assert set_overlap(session, user=lead, dataset_id=dataset.id, overlap=2, clip_ids=[clips[0].id]) == 1
        result = assign_clips(session, user=lead, dataset_id=dataset.id, clip_ids=[clips[0].id],
                              annotator_ids=[ann.id, bob.id, cy.id])
        assert len(result.assigned) == 2 and result.full == [clips[0].id]
        # An assigned clip is what the annotator gets first, even though another clip is less certain.
        assert next_clip(session, user=ann, dataset_id=dataset.id).id == clips[0].id
        assert next_clip(session, user=cy, dataset_id=dataset.id).id == clips[1].id
        progress = dataset_progress(session, user=lead, dataset_id=dataset.id)
        assert {r["annotator"]: r["leased"] for r in progress["annotators"]} == {"ann": 1, "bob": 1, "cy": 1}
        assert progress["open_slots"] == 0
        with pytest.raises(PermissionDenied):
            dataset_progress(session, user=ann, dataset_id=dataset.id)


def test_non_annotator_cannot_take_clips(db_engine):
    dataset, _ = make_dataset(db_engine, clips=1)
    (researcher,) = make_users(db_engine, ["res"], roles=["researcher"])
    with Session(db_engine) as session, pytest.raises(PermissionDenied):
        next_clip(session, user=researcher, dataset_id=dataset.id)


def test_resuming_a_lease_that_is_running_out_extends_it(db_engine):
    dataset, (clip,) = make_dataset(db_engine, clips=1, overlap=1, lease_minutes=30)
    (ann,) = make_users(db_engine, ["ann"])
    with Session(db_engine) as session:
        next_clip(session, user=ann, dataset_id=dataset.id)
        session.execute(sa.update(Assignment).values(expires_at=utcnow() + timedelta(minutes=2)))
        session.commit()
        assert next_clip(session, user=ann, dataset_id=dataset.id).id == clip.id
        session.expire_all()
        expires = session.exec(select(Assignment.expires_at)).one()
    assert expires - utcnow() > timedelta(minutes=25)


@pytest.mark.parametrize("strategy", ["uncertainty", "sequential"])
def test_filled_clips_are_passed_over_and_reopen_when_a_lead_raises_overlap(db_engine, strategy):
    dataset, clips = make_dataset(db_engine, clips=5, overlap=1, strategy=strategy)
    order = list(reversed(clips)) if strategy == "uncertainty" else clips
    (lead,) = make_users(db_engine, ["lead"], roles=["lead"])
    users = make_users(db_engine, ["a", "b", "c", "d"])
    with Session(db_engine) as session:
        for user, clip in zip(users[:2], order[:2], strict=True):
            assert next_clip(session, user=user, dataset_id=dataset.id).id == clip.id
            submit(session, user=user, clip_id=clip.id, values=filled())
        # The first two are full for good; the queue starts after them.
        assert next_clip(session, user=users[2], dataset_id=dataset.id).id == order[2].id
        set_overlap(session, user=lead, dataset_id=dataset.id, overlap=2, clip_ids=[order[0].id])
        assert next_clip(session, user=users[3], dataset_id=dataset.id).id == order[0].id


def test_a_clip_sent_back_from_adjudication_reopens_at_once(db_engine):
    from annotation.labelling.adjudication import send_back

    dataset, clips = make_dataset(db_engine, clips=4, overlap=1, strategy="sequential")
    (lead,) = make_users(db_engine, ["lead"], roles=["lead"])
    users = make_users(db_engine, ["a", "b", "c"])
    with Session(db_engine) as session:
        assert next_clip(session, user=users[0], dataset_id=dataset.id).id == clips[0].id
        submit(session, user=users[0], clip_id=clips[0].id, values=filled())
        # The queue now remembers that clip 0 is full and starts after it.
        assert next_clip(session, user=users[1], dataset_id=dataset.id).id == clips[1].id
        send_back(session, user=lead, clip_id=clips[0].id)
        session.commit()
        assert next_clip(session, user=users[2], dataset_id=dataset.id).id == clips[0].id


def test_assignments_page_progress_is_shared_for_a_while_and_a_leads_change_shows_at_once(db_engine):
    from annotation.labelling import queue as queue_module
    from annotation.labelling.queue import cached_dataset_progress

    dataset, clips = make_dataset(db_engine, clips=3, overlap=1)
    (lead,) = make_users(db_engine, ["lead"], roles=["lead"])
    (ann,) = make_users(db_engine, ["ann"])
    with Session(db_engine) as session:
        first = cached_dataset_progress(session, user=lead, dataset_id=dataset.id)
        assert first["open_slots"] == 3 and first["annotators"] == [] and first["overlap"] == 1
        builds = queue_module._progress.builds
        next_clip(session, user=ann, dataset_id=dataset.id)  # an annotator's lease: seen within PROGRESS_MAX_AGE
        assert cached_dataset_progress(session, user=lead, dataset_id=dataset.id)["open_slots"] == 3
        assert queue_module._progress.builds == builds
        set_overlap(session, user=lead, dataset_id=dataset.id, overlap=2)  # the lead's own change: at once
        now = cached_dataset_progress(session, user=lead, dataset_id=dataset.id)
        assert now["overlap"] == 2 and now["open_slots"] == 5
        assert [r["leased"] for r in now["annotators"]] == [1]
        with pytest.raises(PermissionDenied):
            cached_dataset_progress(session, user=ann, dataset_id=dataset.id)
