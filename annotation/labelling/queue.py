"""The annotation queue: which clip an annotator gets next, and what a lead can steer.

Each ready clip has `overlap` slots (Dataset.overlap, or Clip.overlap_override).
`next_clip` leases one slot to the asking annotator for Dataset.lease_minutes;
asking again while the lease lives returns the same clip, so a reload resumes.
Slot accounting and locking live in `db.queries.assignments`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from annotation.permissions import require
from annotation.refreshing import RefreshingCache
from core.vocabulary import AnnotationStatus, QueueStrategy, Role
from db.engine import session_scope, with_session, write_transaction
from db.models import Assignment, Clip, Dataset, User, utcnow
from db.queries import annotations as annotation_queries
from db.queries import assignments as q
from db.queries import audit
from db.queries import clips as clip_queries
from db.queries import progress as progress_queries
from db.queries import references as reference_queries
from db.queries import users as user_queries

DEFAULT_LEASE_MINUTES = 30
# Claims tried with the search outside the write lock before searching under it.
OPTIMISTIC_CLAIMS = 3


class QueueError(ValueError):
    """A queue request that cannot be honoured; the message says why."""


def lease_length(dataset: Dataset) -> timedelta:
    return timedelta(minutes=dataset.lease_minutes or DEFAULT_LEASE_MINUTES)


def _dataset(session: Session, dataset_id: int) -> Dataset:
    dataset = clip_queries.get_dataset(session, dataset_id=dataset_id)
    if dataset is None:
        raise QueueError(f"No dataset with id {dataset_id}.")
    return dataset


@with_session
def next_clip(session: Session, *, user: User, dataset_id: int) -> Clip | None:
    """Lease the user's next clip (or resume the one they hold); None when nothing is left for them.

    Commits its claim before returning, so the slot is visible to every other annotator at once.
    """
    lease = next_lease(session, user=user, dataset_id=dataset_id)
    return clip_queries.get_clip(session, clip_id=lease.clip_id) if lease is not None else None


@with_session
def next_lease(session: Session, *, user: User, dataset_id: int) -> Assignment | None:
    """`next_clip`, returning the lease (its clip_id and expiry)."""
    require(user, Role.annotator, action="take clips from the queue")
    dataset = _dataset(session, dataset_id)
    now = utcnow()
    # Every rerun of the page asks again: resuming a fresh lease is a read, not a write.
    held = q.live_lease(session, user_id=user.id, dataset_id=dataset_id, now=now)
    if held is not None and (held.expires_at is None or held.expires_at - now > lease_length(dataset) / 2):
        return held
    # Find the clip before taking the write lock (the search is the slow part, and on SQLite the lock is
    # global); under the lock only recount its slots and lease one. A rival may have taken the last slot
    # meanwhile: search again, and after a few misses search under the lock.
    tried: list[int] = []
    while True:
        searching = held is None and len(tried) < OPTIMISTIC_CLAIMS
        candidate = q.first_candidate(session, dataset=dataset, user_id=user.id, now=now, exclude=tried) \
            if searching else None
        with write_transaction(session):
            held = q.live_lease(session, user_id=user.id, dataset_id=dataset_id, now=now)
            if held is not None:
                if held.expires_at is not None:  # still working on it: extend the lease
                    q.extend_lease(session, assignment=held, until=now + lease_length(dataset))
                return held
            if candidate is None:
                return q.claim_next(session, dataset=dataset, user_id=user.id, lease=lease_length(dataset),
                                    exclude=tried)
            claimed = q.try_lease(session, dataset=dataset, clip_id=candidate, user_id=user.id, now=now,
                                  lease=lease_length(dataset))
            if claimed is not None:
                return claimed
        tried.append(candidate)


@with_session
def release(session: Session, *, user: User, clip_id: int) -> None:
    """Give a leased clip back to the pool (the user's draft stays)."""
    require(user, Role.annotator, action="release a clip")
    with write_transaction(session):
        assignment = q.assignment_for(session, clip_id=clip_id, user_id=user.id)
        if assignment is not None and assignment.state == q.ACTIVE:
            q.finish(session, assignment=assignment, state=q.RELEASED)


# --- lead controls --------------------------------------------------------------

AUDIT_IDS = 50  # an audit row names at most this many clip ids (and says how many there were)


def _few(ids: Sequence[int]) -> list[int] | dict[str, Any]:
    ids = [int(i) for i in ids]
    return ids if len(ids) <= AUDIT_IDS else {"first": ids[:AUDIT_IDS], "count": len(ids)}



@dataclass
class AssignResult:
    assigned: list[tuple[int, int]] = field(default_factory=list)  # (clip_id, user_id)
    full: list[int] = field(default_factory=list)  # clips with no open slot
    already: list[tuple[int, int]] = field(default_factory=list)  # user already holds or did the clip

    @property
    def message(self) -> str:
        parts = [f"{len(self.assigned)} assignment(s) made"]
        if self.full:
            parts.append(f"{len(self.full)} clip slot(s) refused: the clip is at its overlap")
        if self.already:
            parts.append(f"{len(self.already)} skipped: the annotator already has or did the clip")
        return "; ".join(parts) + "."


@with_session
def assign_clips(session: Session, *, user: User, dataset_id: int, clip_ids: Sequence[int],
                 annotator_ids: Sequence[int]) -> AssignResult:
    """Reserve slots on `clip_ids` for each named annotator (no lease expiry), within overlap."""
    require(user, Role.lead, action="assign clips")
    with write_transaction(session):
        dataset = _dataset(session, dataset_id)
        annotators = [user_queries.get_user(session, user_id=a) for a in annotator_ids]
        missing = [a for a, u in zip(annotator_ids, annotators, strict=False) if u is None]
        if missing:
            raise QueueError(f"No user with id {', '.join(map(str, missing))}.")
        not_annotators = [u.username for u in annotators if Role.annotator.value not in u.roles]
        if not_annotators:
            raise QueueError(f"Not annotators: {', '.join(not_annotators)}.")
        result = AssignResult()
        now = utcnow()
        for clip_id in clip_ids:
            clip = q.lock_clip(session, clip_id=clip_id)
            if clip is None or clip.dataset_id != dataset_id:
                raise QueueError(f"Clip {clip_id} is not in dataset {dataset.name}.")
            capacity = q.clip_capacity(clip, dataset)
            for annotator in annotators:
                existing = q.assignment_for(session, clip_id=clip_id, user_id=annotator.id)
                annotation = annotation_queries.get_for(session, clip_id=clip_id, user_id=annotator.id)
                if (existing is not None and existing.state == q.DONE) or (
                    annotation is not None and annotation.status != AnnotationStatus.draft.value
                ):
                    result.already.append((clip_id, annotator.id))
                    continue
                if q.taken_slots(session, clip_id=clip_id, now=now, exclude_user_id=annotator.id) >= capacity:
                    result.full.append(clip_id)
                    continue
                q.upsert_lease(session, clip_id=clip_id, user_id=annotator.id, expires_at=None, now=now,
                               assigned_by_id=user.id)
                result.assigned.append((clip_id, annotator.id))
        audit.record(session, user=user, action="assign_clips", entity="dataset", entity_id=dataset_id,
                     detail={"clip_ids": _few(clip_ids), "annotator_ids": list(annotator_ids),
                             "assigned": len(result.assigned), "full": len(result.full),
                             "already": len(result.already)})
    progress_changed(session, dataset_id)
    return result


@with_session
def set_overlap(session: Session, *, user: User, dataset_id: int, overlap: int,
                clip_ids: Sequence[int] | None = None) -> int:
    """Set the dataset's overlap, or override it on `clip_ids`; returns rows changed.

    Lowering overlap never withdraws slots already leased or submitted.
    """
    require(user, Role.lead, action="change overlap")
    if not 1 <= overlap <= 50:
        raise QueueError("Overlap must be between 1 and 50.")
    with write_transaction(session):
        dataset = _dataset(session, dataset_id)
        detail: dict[str, Any] = {"overlap": overlap}
        if clip_ids is None:
            detail["before"] = dataset.overlap
            clip_queries.update_dataset(session, dataset=dataset, overlap=overlap)
            q.bump_queue_version(session, dataset_id=dataset_id)
            changed = 1
        else:
            clips = clip_queries.clips_in_dataset(session, dataset_id=dataset_id, clip_ids=list(clip_ids))
            detail["clip_ids"] = _few([clip.id for clip in clips])
            for clip in clips:
                q.set_overlap_override(session, clip=clip, overlap=overlap)
            changed = len(clips)
        detail["changed"] = changed
        audit.record(session, user=user, action="set_overlap", entity="dataset", entity_id=dataset_id, detail=detail)
    progress_changed(session, dataset_id)
    return changed


@with_session
def set_strategy(session: Session, *, user: User, dataset_id: int, strategy: str,
                 lease_minutes: int | None = None, random_seed: int | None = None) -> Dataset:
    require(user, Role.lead, action="change the queue strategy")
    try:
        strategy = QueueStrategy(strategy).value
    except ValueError:
        names = ", ".join(s.value for s in QueueStrategy)
        raise QueueError(f"Unknown strategy {strategy!r}: choose {names}.") from None
    with write_transaction(session):
        dataset = _dataset(session, dataset_id)
        changes: dict[str, Any] = {"strategy": strategy}
        if lease_minutes is not None:
            if lease_minutes < 1:
                raise QueueError("A lease lasts at least one minute.")
            changes["lease_minutes"] = lease_minutes
        before = {"strategy": dataset.strategy, "lease_minutes": dataset.lease_minutes,
                  "random_seed": (dataset.settings or {}).get("random_seed")}
        if random_seed is not None:
            changes["settings"] = {**(dataset.settings or {}), "random_seed": int(random_seed)}
        clip_queries.update_dataset(session, dataset=dataset, **changes)
        audit.record(session, user=user, action="set_queue_strategy", entity="dataset", entity_id=dataset_id,
                     detail={"strategy": strategy, "lease_minutes": dataset.lease_minutes,
                             "random_seed": (dataset.settings or {}).get("random_seed"), "before": before})
    return dataset


@with_session
def dataset_progress(session: Session, *, user: User, dataset_id: int) -> dict[str, Any]:
    """Per-annotator progress and the slots still open, for a lead."""
    require(user, Role.lead, action="see annotator progress")
    dataset = _dataset(session, dataset_id)
    return {
        **_progress_figures(session, dataset),
        "overlap": dataset.overlap,
        "strategy": dataset.strategy,
        "lease_minutes": dataset.lease_minutes,
    }


# The dataset-wide figures read every annotation and lease of the dataset (seconds at 100k clips): the
# Assignments page shares them per server process, rebuilt in the background once older than this; a lead's
# own change in this process (overlap, strategy, assignments) drops them at once.
PROGRESS_MAX_AGE = 15.0


def _progress_for(dataset_id: int, engine: Engine) -> dict[str, Any]:
    with session_scope(engine) as session:
        dataset = _dataset(session, dataset_id)
        return _progress_figures(session, dataset)


def _progress_figures(session: Session, dataset: Dataset) -> dict[str, Any]:
    return {
        "annotators": progress_queries.annotator_progress(session, dataset_id=dataset.id),
        "ready_clips": progress_queries.ready_clip_count(session, dataset_id=dataset.id),
        "open_slots": progress_queries.open_slots(session, dataset=dataset),
    }


_progress: RefreshingCache[dict[str, Any]] = RefreshingCache(_progress_for, max_age=PROGRESS_MAX_AGE,
                                                             name="dataset-progress")


def _progress_key(session: Session, dataset_id: int) -> tuple:
    return (session.get_bind().url.render_as_string(hide_password=True), dataset_id)


def progress_changed(session: Session, dataset_id: int) -> None:
    """Drop this process's shared progress figures of the dataset (after a lead's change)."""
    _progress.forget(_progress_key(session, dataset_id))


@with_session
def cached_dataset_progress(session: Session, *, user: User, dataset_id: int) -> dict[str, Any]:
    """`dataset_progress` for the Assignments page: the dataset-wide figures at most PROGRESS_MAX_AGE old
    (only the first read in a process waits for them); the dataset's settings as they are now."""
    require(user, Role.lead, action="see annotator progress")
    dataset = _dataset(session, dataset_id)
    figures = _progress.get(_progress_key(session, dataset_id), dataset_id, session.get_bind())
    return {**figures, "overlap": dataset.overlap, "strategy": dataset.strategy,
            "lease_minutes": dataset.lease_minutes}


@with_session
def list_annotators(session: Session, *, user: User) -> list[User]:
    require(user, Role.lead, action="list annotators")
    return sorted(user_queries.users_with_roles(session, roles=[Role.annotator.value]), key=lambda u: u.username)


@with_session
def resolve_clip_names(session: Session, *, dataset_id: int, names: Sequence[str]) -> tuple[list[int], list[str]]:
    """Clip ids for the given names in the dataset, and the names that matched nothing."""
    wanted = [n.strip() for n in names if n.strip()]
    if not wanted:
        return [], []
    found = reference_queries.clip_ids_by_name(session, dataset_id=dataset_id, names=wanted)
    return [found[n] for n in wanted if n in found], [n for n in wanted if n not in found]
