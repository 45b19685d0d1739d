"""Leases of clip slots to annotators.

A slot is *taken* by an assignment that is `done` (annotation submitted) or
`active` with a lease that has not expired (`expires_at` NULL means a lead
reserved it without expiry). Expired leases simply stop counting, so their
slots return to the pool without a sweeper.

Claiming is serialised per clip: on PostgreSQL the clip row is locked with
`FOR UPDATE SKIP LOCKED` (busy clips are passed over, not waited on) and the
slots are recounted after the lock; on SQLite the whole claim runs inside
`BEGIN IMMEDIATE`, which admits one writer at a time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from core.vocabulary import AnnotationStatus, ClipStatus, QueueStrategy
from db.engine import is_sqlite
from db.models import (
    Annotation,
    Assignment,
    Clip,
    Dataset,
    Prediction,
    utcnow,
)
from db.queries.predictions import active_version_id
from db.queries.upsert import insert_for

ACTIVE = "active"
DONE = "done"
RELEASED = "released"

# Random order without a stored column: a multiplicative hash of the id (a fixed
# permutation, indexed by migration 0002 as written here), rotated by the seed.
_HASH_MULTIPLIER = 2654435761
_HASH_MODULUS = 4294967291
RANDOM_RANK_SQL = f"(CAST(id AS BIGINT) * {_HASH_MULTIPLIER}) % {_HASH_MODULUS}"


def live_condition(now: datetime) -> Any:
    """Assignments that hold a slot at `now`."""
    return sa.or_(
        Assignment.state == DONE,
        sa.and_(Assignment.state == ACTIVE, sa.or_(Assignment.expires_at.is_(None), Assignment.expires_at > now)),
    )


def taken_slots(session: Session, *, clip_id: int, now: datetime, exclude_user_id: int | None = None) -> int:
    query = select(sa.func.count()).select_from(Assignment).where(Assignment.clip_id == clip_id, live_condition(now))
    if exclude_user_id is not None:
        query = query.where(Assignment.user_id != exclude_user_id)
    return int(session.exec(query).one())


def extend_lease(session: Session, *, assignment: Assignment, until: datetime) -> Assignment:
    assignment.expires_at = until
    session.add(assignment)
    return assignment


def live_lease(session: Session, *, user_id: int, dataset_id: int, now: datetime) -> Assignment | None:
    """The user's live lease in the dataset on a ready clip: lead-reserved first, then oldest.

    Driven by the user's own (few) active assignments; filtering on the clip in
    SQL tempts SQLite into walking the dataset's clips instead.
    """
    rows = session.exec(
        select(Assignment, Clip.dataset_id, Clip.status)
        .join(Clip, Clip.id == Assignment.clip_id)
        .where(
            Assignment.user_id == user_id,
            Assignment.state == ACTIVE,
            sa.or_(Assignment.expires_at.is_(None), Assignment.expires_at > now),
        )
        .order_by(Assignment.expires_at.is_not(None), Assignment.leased_at, Assignment.id)
    ).all()
    for assignment, clip_dataset_id, clip_status in rows:
        if clip_dataset_id == dataset_id and clip_status == ClipStatus.ready.value:
            return assignment
    return None


def assignment_for(session: Session, *, clip_id: int, user_id: int) -> Assignment | None:
    return session.exec(select(Assignment).where(Assignment.clip_id == clip_id, Assignment.user_id == user_id)).first()


def random_rank() -> Any:
    """The clip's place in the fixed permutation, spelled exactly as its index (64-bit on every backend)."""
    return sa.literal_column(RANDOM_RANK_SQL.replace("CAST(id", "CAST(clip.id"))


def random_start(seed: int) -> int:
    """Where the seed's rotation of the permutation begins: order by (rank + seed) mod P."""
    return (-seed) % _HASH_MODULUS


def _capacity(overlap: int) -> Any:
    return sa.func.coalesce(Clip.overlap_override, overlap)


def _taken_subquery(now: datetime) -> Any:
    """Taken slots of the clip in the enclosing query."""
    return (
        select(sa.func.count())
        .select_from(Assignment)
        .where(Assignment.clip_id == Clip.id, live_condition(now))
        .scalar_subquery()
    )


# --- the filled prefix --------------------------------------------------------------
#
# Clips fill from the front of the queue order, and a clip whose slots are all
# *submitted* stays full (only a lead raising overlap or sending a clip back
# reopens it). Late in a project the candidate query would walk thousands of
# such clips on every request, so each process remembers where the filled
# prefix ends and starts there. The position only ever moves forward. It is
# tied to the dataset's `queue_version`, which every change that can reopen
# clips bumps in its own transaction: each process reads the dataset row on
# every claim anyway, so a change made by any process is seen by all at their
# next claim. FILLED_PREFIX_TTL is a backstop for changes no one signals
# (predictions rewritten with new uncertainties).

FILLED_PREFIX_TTL = 300.0
ALL_FILLED = "all filled"
# (database, dataset id) -> (the dataset's signature when remembered, the prefix end, when first remembered)
_filled_prefix: dict[tuple, tuple[tuple, Any, float]] = {}
_filled_prefix_guard = threading.Lock()


def forget_filled_prefix(dataset_id: int) -> None:
    """Drop this process's memory at once (other processes see the queue_version bump at their next claim)."""
    with _filled_prefix_guard:
        for key in [k for k in _filled_prefix if k[1] == dataset_id]:
            del _filled_prefix[key]


def _submitted_subquery() -> Any:
    return (
        select(sa.func.count()).select_from(Assignment)
        .where(Assignment.clip_id == Clip.id, Assignment.state == DONE)
        .scalar_subquery()
    )


def bump_queue_version(session: Session, *, dataset_id: int) -> None:
    """Tell every server process that filled clips of the dataset may have reopened (in this transaction)."""
    session.execute(sa.update(Dataset).where(Dataset.id == dataset_id)
                    .values(queue_version=Dataset.queue_version + 1)
                    .execution_options(synchronize_session=False))
    sa.event.listen(session, "after_commit", lambda _session: forget_filled_prefix(dataset_id), once=True)


def set_overlap_override(session: Session, *, clip: Clip, overlap: int) -> Clip:
    """Give one clip its own overlap; the queue serves it again from the next commit on, in every process."""
    clip.overlap_override = overlap
    session.add(clip)
    session.flush()
    bump_queue_version(session, dataset_id=clip.dataset_id)
    return clip


def filled_prefix_end(session: Session, *, dataset: Dataset, model_version_id: int | None) -> Any:
    """Queue position of the first clip not yet filled with submissions, ALL_FILLED, or None (no shortcut).

    Uncertainty order: a (uncertainty, clip_id) pair; sequential order: a clip id.
    """
    strategy = dataset.strategy or QueueStrategy.uncertainty.value
    if strategy == QueueStrategy.uncertainty.value and model_version_id is None:
        return None
    if strategy not in (QueueStrategy.uncertainty.value, QueueStrategy.sequential.value):
        return None
    key = (session.get_bind().url.render_as_string(hide_password=True), dataset.id)
    # created_at tells a dataset from a later one that reuses its id (a restored or reset database).
    signature = (dataset.created_at, strategy, model_version_id, dataset.overlap, dataset.queue_version)
    with _filled_prefix_guard:
        cached = _filled_prefix.get(key)
    fresh = cached is not None and cached[0] == signature and time.monotonic() - cached[2] < FILLED_PREFIX_TTL
    start = cached[1] if fresh else None
    if start == ALL_FILLED:
        start = None  # re-check from the front: new clips may have arrived
    not_filled = sa.or_(Clip.status != ClipStatus.ready.value, _submitted_subquery() < _capacity(dataset.overlap))
    if strategy == QueueStrategy.uncertainty.value:
        query = (
            select(Prediction.uncertainty, Prediction.clip_id)
            .select_from(Prediction)
            .join(Clip, Clip.id == Prediction.clip_id)
            .where(Prediction.model_version_id == model_version_id, Prediction.uncertainty.is_not(None),
                   Clip.dataset_id == dataset.id, not_filled)
            .order_by(Prediction.uncertainty.desc(), Prediction.clip_id.desc())
            .limit(1)
        )
        if start is not None:
            query = query.where(sa.tuple_(Prediction.uncertainty, Prediction.clip_id) <= sa.tuple_(*start))
        row = session.exec(query).first()
        end = tuple(row) if row is not None else ALL_FILLED
    else:
        query = select(Clip.id).where(Clip.dataset_id == dataset.id, not_filled).order_by(Clip.id).limit(1)
        if start is not None:
            query = query.where(Clip.id >= start)
        found = session.exec(query).first()
        end = found if found is not None else ALL_FILLED
    with _filled_prefix_guard:
        # Moved forward: keep the original age, so the TTL backstop still runs out.
        _filled_prefix[key] = (signature, end, cached[2] if fresh and start is not None else time.monotonic())
    return end


def candidate_queries(
    *, dataset: Dataset, user_id: int, now: datetime, model_version_id: int | None, exclude: Sequence[int],
    prefix_end: Any = None,
) -> list[sa.Select]:
    """Queries for ready clips with an open slot that this user has not done, most useful first.

    Tried in order; each returns at most one clip id. Uncertainty order walks the
    (model_version_id, uncertainty, clip_id) index backwards from `prefix_end`
    (see `filled_prefix_end`), so finding the next clip reads a handful of rows,
    not the whole dataset; clips the model has not scored come after, in id order.
    """
    taken = _taken_subquery(now)
    done_by_user = sa.exists().where(
        Annotation.clip_id == Clip.id,
        Annotation.user_id == user_id,
        Annotation.status.in_([AnnotationStatus.submitted.value, AnnotationStatus.skipped.value]),
    )
    open_for_user = [
        Clip.dataset_id == dataset.id,
        Clip.status == ClipStatus.ready.value,
        taken < _capacity(dataset.overlap),
        ~done_by_user,
    ]
    if exclude:
        open_for_user.append(Clip.id.not_in(list(exclude)))
    strategy = dataset.strategy or QueueStrategy.uncertainty.value
    if strategy == QueueStrategy.uncertainty.value and model_version_id is not None:
        scored = sa.and_(Prediction.model_version_id == model_version_id, Prediction.uncertainty.is_not(None))
        by_uncertainty = (
            select(Clip.id)
            .select_from(Prediction)
            .join(Clip, Clip.id == Prediction.clip_id)
            .where(scored, *open_for_user)
            .order_by(Prediction.uncertainty.desc(), Prediction.clip_id.desc())
            .limit(1)
        )
        if isinstance(prefix_end, tuple):
            by_uncertainty = by_uncertainty.where(
                sa.tuple_(Prediction.uncertainty, Prediction.clip_id) <= sa.tuple_(*prefix_end))
        unscored = sa.exists().where(Prediction.clip_id == Clip.id, scored)
        rest = select(Clip.id).where(*open_for_user, ~unscored).order_by(Clip.id).limit(1)
        return [rest] if prefix_end == ALL_FILLED else [by_uncertainty, rest]
    query = select(Clip.id).where(*open_for_user)
    if strategy == QueueStrategy.random.value:
        start = random_start(int((dataset.settings or {}).get("random_seed", 0)))
        rank = random_rank()
        # Two index range scans: from the seed's starting rank to the end, then wrap around.
        return [query.where(rank >= start).order_by(rank).limit(1),
                query.where(rank < start).order_by(rank).limit(1)]
    if prefix_end == ALL_FILLED:
        return []
    if prefix_end is not None:
        query = query.where(Clip.id >= prefix_end)
    return [query.order_by(Clip.id).limit(1)]


def first_candidate(session: Session, *, dataset: Dataset, user_id: int, now: datetime,
                    exclude: Sequence[int] = ()) -> int | None:
    """The clip the user would be leased next, found without any lock (the caller claims it under one)."""
    model_version_id = active_version_id(session, dataset_id=dataset.id)
    prefix_end = filled_prefix_end(session, dataset=dataset, model_version_id=model_version_id)
    for query in candidate_queries(dataset=dataset, user_id=user_id, now=now, model_version_id=model_version_id,
                                   exclude=exclude, prefix_end=prefix_end):
        clip_id = session.exec(query).first()
        if clip_id is not None:
            return clip_id
    return None


def try_lease(session: Session, *, dataset: Dataset, clip_id: int, user_id: int, now: datetime,
              lease: timedelta) -> Assignment | None:
    """Lease a slot on this clip if it still has one; None if it filled meanwhile (or a rival holds its row).

    Runs inside the caller's `write_transaction`. On PostgreSQL the clip row is
    locked first (SKIP LOCKED: a clip another claim is counting is passed over).
    """
    if not is_sqlite(session):
        locked = session.exec(select(Clip.id).where(Clip.id == clip_id).with_for_update(skip_locked=True)).first()
        if locked is None:
            return None
    # Recount under the lock: the search's snapshot may predate a rival's commit.
    capacity, taken = session.exec(
        select(_capacity(dataset.overlap), _taken_subquery(now)).where(Clip.id == clip_id)).one()
    if taken >= capacity:
        return None
    return upsert_lease(session, clip_id=clip_id, user_id=user_id, expires_at=now + lease, now=now)


def claim_next(session: Session, *, dataset: Dataset, user_id: int, lease: timedelta, max_tries: int = 50,
               exclude: Sequence[int] = ()) -> Assignment | None:
    """Lease one open slot to the user, or None when the queue is empty for them.

    Runs inside the caller's `write_transaction`: the lock it holds is the guarantee.
    """
    now = utcnow()
    postgres = not is_sqlite(session)
    model_version_id = active_version_id(session, dataset_id=dataset.id)
    prefix_end = filled_prefix_end(session, dataset=dataset, model_version_id=model_version_id)
    tried: list[int] = list(exclude)
    phase = 0
    for _ in range(max_tries):
        queries = candidate_queries(dataset=dataset, user_id=user_id, now=now, model_version_id=model_version_id,
                                    exclude=tried, prefix_end=prefix_end)
        if phase >= len(queries):
            return None
        query = queries[phase]
        if postgres:
            query = query.with_for_update(of=Clip, skip_locked=True)
        clip_id = session.exec(query).first()
        if clip_id is None:
            phase += 1
            continue
        tried.append(clip_id)
        # Recount under the lock: the candidate query's snapshot may predate a rival's commit.
        capacity, taken = session.exec(
            select(_capacity(dataset.overlap), _taken_subquery(now)).where(Clip.id == clip_id)).one()
        if taken >= capacity:
            continue
        assignment = upsert_lease(session, clip_id=clip_id, user_id=user_id, expires_at=now + lease, now=now)
        if assignment is not None:
            return assignment
    return None


def upsert_lease(
    session: Session, *, clip_id: int, user_id: int, expires_at: datetime | None, now: datetime, assigned_by_id: int | None = None
) -> Assignment | None:
    """Make (clip, user) an active lease: a new row, or a reused expired/released one, in one statement.

    None when the user's slot on the clip is already done (callers check that first).
    """
    values = {"clip_id": clip_id, "user_id": user_id, "state": ACTIVE, "leased_at": now, "expires_at": expires_at,
              "assigned_by_id": assigned_by_id}
    statement = insert_for(session, Assignment).values(values)  # one row as a dict: SQLAlchemy caches it compiled
    changes = {"state": ACTIVE, "leased_at": now, "expires_at": expires_at}
    if assigned_by_id is not None:
        changes["assigned_by_id"] = assigned_by_id
    statement = statement.on_conflict_do_update(index_elements=["clip_id", "user_id"], set_=changes,
                                                where=Assignment.__table__.c.state != DONE)
    return session.scalars(statement.returning(Assignment), execution_options={"populate_existing": True}).first()


def finish_live_lease(session: Session, *, clip_id: int, user_id: int, now: datetime, state: str = DONE) -> bool:
    """Mark the user's live lease on the clip `state` in one statement; False when there is no live lease."""
    result = session.execute(
        sa.update(Assignment)
        .where(Assignment.clip_id == clip_id, Assignment.user_id == user_id, Assignment.state == ACTIVE,
               sa.or_(Assignment.expires_at.is_(None), Assignment.expires_at > now))
        .values(state=state)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def lock_clip(session: Session, *, clip_id: int) -> Clip | None:
    """The clip row, locked for this transaction on PostgreSQL (on SQLite `write_transaction` holds the lock)."""
    query = select(Clip).where(Clip.id == clip_id)
    if not is_sqlite(session):
        query = query.with_for_update()
    return session.exec(query).first()


def clip_capacity(clip: Clip, dataset: Dataset) -> int:
    return clip.overlap_override if clip.overlap_override is not None else dataset.overlap


def finish(session: Session, *, assignment: Assignment, state: str) -> None:
    assignment.state = state
    session.add(assignment)
