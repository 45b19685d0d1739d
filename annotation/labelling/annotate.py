"""Annotating one clip: load the task, autosave drafts, submit, skip, edit later, progress.

Every function that writes takes the acting user, checks the role and commits
its own unit of work. A draft is the user's Annotation row with status
`draft`; it survives reloads and new logins because it lives in the database.
"""

from __future__ import annotations

import statistics
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from time import monotonic
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session

from annotation.evaluation.word_sets import clean_words
from annotation.labelling.queue import QueueError, lease_length, next_lease
from annotation.permissions import PermissionDenied, require
from core.vocabulary import (
    ASPECTS,
    REASONING_RATINGS,
    SKIP_REASON_TITLES,
    AnnotationStatus,
    Role,
)
from db.engine import with_session, write_transaction
from db.models import Annotation, Assignment, Clip, Dataset, Prediction, User, utcnow
from db.queries import annotations as aq
from db.queries import assignments as q
from db.queries import audit
from db.queries import clips as clip_queries
from db.queries import predictions as prediction_queries
from db.queries import progress as progress_queries
from db.queries import users as user_queries
from db.queries.locking import StaleEdit

__all__ = [
    "AnnotationInput", "InvalidAnnotation", "LeaseLost", "AlreadyFinished", "Adjudicated", "StaleEdit",
    "Task", "Progress", "SKIP_REASONS", "load_task", "load_clip_task", "save_draft", "submit", "skip",
    "edit_submission", "undo_submit", "recent_submissions", "my_work", "progress", "datasets_for", "get_user",
    "validate",
]

SKIP_REASONS: dict[str, str] = SKIP_REASON_TITLES  # reason value -> what the page shows
OTHER_EMOTION = "other"


class InvalidAnnotation(ValueError):
    """Submission refused; `problems` lists what to fix, in the user's words."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(" ".join(problems))


class LeaseLost(QueueError):
    """The lease expired and the slot went to someone else; the draft is kept."""


class AlreadyFinished(QueueError):
    """The clip was already submitted or skipped by this user."""


class Adjudicated(QueueError):
    """A current consensus exists for the clip, so its annotations are frozen."""


class AnnotationInput(BaseModel):
    """What the annotate form holds; also the shape of a draft."""

    clues: dict[str, str] = Field(default_factory=dict)
    no_evidence: list[str] = Field(default_factory=list)
    emotion: str | None = None
    emotion_other: str | None = Field(default=None, max_length=128)
    # Open-vocabulary emotion words (datasets with open_vocabulary): normalised, de-duplicated.
    emotion_words: list[str] = Field(default_factory=list)
    rating: int | None = Field(default=None, ge=1, le=4)
    confidence: int | None = Field(default=None, ge=1, le=5)
    note: str = Field(default="", max_length=5000)

    @field_validator("emotion_words")
    @classmethod
    def _clean_words(cls, value: list[str]) -> list[str]:
        return clean_words(value)

    @field_validator("clues")
    @classmethod
    def _known_aspects(cls, value: dict[str, str]) -> dict[str, str]:
        known = {a.value for a in ASPECTS}
        return {k: (v or "") for k, v in value.items() if k in known}

    @field_validator("no_evidence")
    @classmethod
    def _known_no_evidence(cls, value: list[str]) -> list[str]:
        known = [a.value for a in ASPECTS]
        return [a for a in known if a in set(value)]

    def values(self) -> dict[str, Any]:
        return self.model_dump()

    @classmethod
    def from_annotation(cls, annotation: Annotation) -> AnnotationInput:
        return cls(clues=dict(annotation.clues or {}), no_evidence=list(annotation.no_evidence or []),
                   emotion=annotation.emotion, emotion_other=annotation.emotion_other,
                   emotion_words=list(annotation.emotion_words or []), rating=annotation.rating,
                   confidence=annotation.confidence, note=annotation.note or "")


def validate(values: AnnotationInput, dataset: Dataset) -> list[str]:
    """Problems that block a submission (empty list: fine)."""
    problems: list[str] = []
    for aspect in ASPECTS:
        text = (values.clues.get(aspect.value) or "").strip()
        if not text and aspect.value not in values.no_evidence:
            problems.append(f"{aspect.title}: write the clue or mark “no evidence in this aspect”.")
    words_only = dataset.open_vocabulary and not dataset.label_set
    if words_only:
        # An open-vocabulary dataset without a label set: the word set is the answer.
        if not values.emotion_words:
            problems.append("Type at least one emotion word.")
    elif not values.emotion:
        problems.append("Choose an emotion.")
    elif values.emotion == OTHER_EMOTION and dataset.open_vocabulary:
        if not (values.emotion_other or "").strip():
            problems.append("Type the emotion for “other”.")
    elif values.emotion not in dataset.label_set:
        problems.append(f"“{values.emotion}” is not in this dataset's labels.")
    if values.rating is None:
        problems.append("Rate the model's reasoning (1–4) before submitting.")
    elif values.rating not in REASONING_RATINGS:
        problems.append("The reasoning rating is 1 to 4.")
    return problems


@dataclass
class Task:
    """Everything the annotate page shows for one clip."""

    clip: Clip
    dataset: Dataset
    prediction: Prediction | None
    annotation: Annotation | None
    lease_expires_at: datetime | None

    def initial_input(self) -> AnnotationInput:
        """The user's draft, or the model's clues when there is none yet."""
        if self.annotation is not None:
            return AnnotationInput.from_annotation(self.annotation)
        clues = dict(self.prediction.clues or {}) if self.prediction else {}
        words = self.model_words() if self.dataset.open_vocabulary else []
        return AnnotationInput(clues={a.value: clues.get(a.value, "") for a in ASPECTS}, emotion_words=words)

    def model_words(self) -> list[str]:
        """The model's open-vocabulary emotion words (prefilled for the annotator to accept or edit)."""
        return clean_words(self.prediction.emotion_words or []) if self.prediction else []

    def model_clues(self) -> dict[str, str]:
        clues = dict(self.prediction.clues or {}) if self.prediction else {}
        return {a.value: clues.get(a.value, "") or "" for a in ASPECTS}


def _prediction_for(session: Session, *, clip: Clip) -> Prediction | None:
    return prediction_queries.active_prediction(session, clip_id=clip.id, dataset_id=clip.dataset_id)


def _task(session: Session, *, user: User, clip: Clip, assignment: Assignment | None = None) -> Task:
    if assignment is None:
        assignment = q.assignment_for(session, clip_id=clip.id, user_id=user.id)
    annotation = aq.get_for(session, clip_id=clip.id, user_id=user.id)
    # Work in progress keeps the prediction it was started on, even after a promotion: its diff and
    # "reset to model" must not show text the annotator never saw.
    shown = annotation is not None and annotation.prediction_id is not None
    prediction = prediction_queries.get_prediction(session, prediction_id=annotation.prediction_id) if shown else None
    return Task(
        clip=clip,
        dataset=clip_queries.get_dataset(session, dataset_id=clip.dataset_id),
        prediction=prediction or _prediction_for(session, clip=clip),
        annotation=annotation,
        lease_expires_at=assignment.expires_at if assignment is not None else None,
    )


@with_session
def load_task(session: Session, *, user: User, dataset_id: int) -> Task | None:
    """The user's current or next clip with its prediction and draft; None when the queue is empty."""
    lease = next_lease(session, user=user, dataset_id=dataset_id)
    if lease is None:
        return None
    return _task(session, user=user, clip=clip_queries.get_clip(session, clip_id=lease.clip_id), assignment=lease)


@with_session
def load_clip_task(session: Session, *, user: User, clip_id: int) -> Task:
    """A clip the user has annotated (for editing in "My work")."""
    require(user, Role.annotator, action="open an annotation")
    clip = clip_queries.get_clip(session, clip_id=clip_id)
    if clip is None:
        raise QueueError(f"No clip with id {clip_id}.")
    return _task(session, user=user, clip=clip)


def _now_values(values: AnnotationInput, seconds_spent: float | None) -> dict[str, Any]:
    data = values.values()
    if seconds_spent is not None:
        data["seconds_spent"] = max(0.0, float(seconds_spent))
    return data


@with_session
def save_draft(session: Session, *, user: User, clip_id: int, values: AnnotationInput,
               seconds_spent: float | None = None) -> Annotation:
    """Store the form as the user's draft for the clip (creating it on first save).

    Reads come first, outside the write lock; the write is one statement.
    """
    require(user, Role.annotator, action="save a draft")
    data = _now_values(values, seconds_spent)
    existing = aq.get_for(session, clip_id=clip_id, user_id=user.id)
    if existing is not None and existing.status != AnnotationStatus.draft.value:
        raise AlreadyFinished("This clip is already submitted; edit it from “My work”.")
    if existing is None:
        data["prediction_id"] = _shown_prediction_id(session, clip_id=clip_id)
    with write_transaction(session):
        annotation = _write_form(session, user=user, clip_id=clip_id, data=data, existing=existing is not None)
    return annotation


# A lease with less than this left is renewed under the clip's lock instead of being finished by the one-statement
# path: a claim that counts the lease as expired can then never overlap a submission it did not see.
LEASE_MARGIN = timedelta(seconds=60)


@with_session
def submit(session: Session, *, user: User, clip_id: int, values: AnnotationInput,
           seconds_spent: float | None = None) -> Annotation:
    """Validate and submit; the slot becomes done. Raises InvalidAnnotation, LeaseLost or AlreadyFinished.

    Reads and validation come first, outside the write lock. Under it, with a live
    lease: two UPDATEs (the lease becomes done, the draft becomes the submission).
    """
    require(user, Role.annotator, action="submit an annotation")
    clip = clip_queries.get_clip(session, clip_id=clip_id)
    if clip is None:
        raise QueueError(f"No clip with id {clip_id}.")
    dataset = clip_queries.get_dataset(session, dataset_id=clip.dataset_id)
    problems = validate(values, dataset)
    if problems:
        raise InvalidAnnotation(problems)
    existing = aq.get_for(session, clip_id=clip_id, user_id=user.id)
    if existing is not None and existing.status != AnnotationStatus.draft.value:
        raise AlreadyFinished("This clip is already submitted; edit it from “My work”.")
    now = utcnow()
    data = _now_values(values, seconds_spent)
    data.update(status=AnnotationStatus.submitted.value, submitted_at=now, skip_reason=None)
    if existing is None:
        data["prediction_id"] = _shown_prediction_id(session, clip_id=clip_id)
    with write_transaction(session):
        if not q.finish_live_lease(session, clip_id=clip_id, user_id=user.id, now=now + LEASE_MARGIN):
            # The lease ran out (or nearly): take the slot back under the clip's lock if it is still free.
            clip = q.lock_clip(session, clip_id=clip_id)
            assignment = _hold_slot(session, user=user, clip=clip, dataset=dataset)
            q.finish(session, assignment=assignment, state=q.DONE)
        annotation = _write_form(session, user=user, clip_id=clip_id, data=data, existing=existing is not None)
        audit.record(session, user=user, action="submit_annotation", entity="annotation", entity_id=annotation.id,
                     detail={"clip_id": clip_id, "emotion": annotation.emotion or annotation.emotion_other})
    return annotation


def _write_form(session: Session, *, user: User, clip_id: int, data: dict, existing: bool) -> Annotation:
    """The user's row for the clip with the form's values: updated while still a draft, inserted on first save."""
    write = aq.update_draft if existing else aq.upsert_draft
    annotation = write(session, clip_id=clip_id, user_id=user.id, values=data)
    if annotation is None:
        raise AlreadyFinished("This clip is already submitted; edit it from “My work”.")
    return annotation


def _shown_prediction_id(session: Session, *, clip_id: int) -> int | None:
    clip = clip_queries.get_clip(session, clip_id=clip_id)
    if clip is None:
        raise QueueError(f"No clip with id {clip_id}.")
    prediction = _prediction_for(session, clip=clip)
    return prediction.id if prediction else None


@with_session
def skip(session: Session, *, user: User, clip_id: int, reason: str, note: str = "",
         seconds_spent: float | None = None) -> Annotation:
    """Skip the clip with a reason; its slot returns to the pool and the user never gets it again."""
    require(user, Role.annotator, action="skip a clip")
    if reason not in SKIP_REASONS:
        raise QueueError(f"Choose a skip reason: {', '.join(SKIP_REASONS.values())}.")
    if reason == "other" and not note.strip():
        raise QueueError("Say why you skip this clip.")
    with write_transaction(session):
        clip = q.lock_clip(session, clip_id=clip_id)
        if clip is None:
            raise QueueError(f"No clip with id {clip_id}.")
        existing = aq.get_for(session, clip_id=clip_id, user_id=user.id)
        data: dict[str, Any] = AnnotationInput.from_annotation(existing).values() if existing else {}
        if note.strip():
            data["note"] = note.strip()
        if seconds_spent is not None:
            data["seconds_spent"] = max(0.0, float(seconds_spent))
        data.update(status=AnnotationStatus.skipped.value, skip_reason=reason, submitted_at=utcnow())
        annotation = _write_final(session, user=user, clip=clip, data=data)
        assignment = q.assignment_for(session, clip_id=clip_id, user_id=user.id)
        if assignment is not None:
            q.finish(session, assignment=assignment, state=q.RELEASED)
        audit.record(session, user=user, action="skip_clip", entity="annotation", entity_id=annotation.id,
                     detail={"clip_id": clip_id, "reason": reason})
    return annotation


def _hold_slot(session: Session, *, user: User, clip: Clip, dataset: Dataset) -> Assignment:
    """The user's live lease on the clip, renewed if it expired while the slot is still free."""
    now = utcnow()
    assignment = q.assignment_for(session, clip_id=clip.id, user_id=user.id)
    if assignment is not None and assignment.state == q.DONE:
        raise AlreadyFinished("This clip is already submitted; edit it from “My work”.")
    live = assignment is not None and assignment.state == q.ACTIVE and (
        assignment.expires_at is None or assignment.expires_at > now)
    if live:
        return assignment
    if q.taken_slots(session, clip_id=clip.id, now=now, exclude_user_id=user.id) >= q.clip_capacity(clip, dataset):
        raise LeaseLost("Your time on this clip ran out and it went to another annotator. Your draft is kept.")
    return q.upsert_lease(session, clip_id=clip.id, user_id=user.id, expires_at=now, now=now)


def _write_final(session: Session, *, user: User, clip: Clip, data: dict[str, Any]) -> Annotation:
    annotation = aq.get_for(session, clip_id=clip.id, user_id=user.id)
    if annotation is None:
        prediction = _prediction_for(session, clip=clip)
        data.setdefault("prediction_id", prediction.id if prediction else None)
        return aq.create(session, clip_id=clip.id, user_id=user.id, values=data)
    if annotation.status != AnnotationStatus.draft.value:
        raise AlreadyFinished("This clip is already submitted; edit it from “My work”.")
    return aq.update_versioned(session, annotation_id=annotation.id, expected_version=annotation.version, values=data)


@with_session
def edit_submission(session: Session, *, user: User, annotation_id: int, expected_version: int,
                    values: AnnotationInput) -> Annotation:
    """Change a submitted annotation; StaleEdit if it changed since `expected_version` was read."""
    require(user, Role.annotator, action="edit an annotation")
    with write_transaction(session):
        annotation = aq.get(session, annotation_id=annotation_id)
        if annotation is None or annotation.user_id != user.id:
            raise PermissionDenied("You can edit only your own annotations.")
        if annotation.status != AnnotationStatus.submitted.value:
            raise QueueError("Only submitted annotations can be edited here.")
        if aq.adjudicated_clip_ids(session, clip_ids=[annotation.clip_id]):
            raise Adjudicated("This clip has been adjudicated; its annotations can no longer change.")
        dataset = clip_queries.get_dataset(session, dataset_id=clip_queries.get_clip(session, clip_id=annotation.clip_id).dataset_id)
        problems = validate(values, dataset)
        if problems:
            raise InvalidAnnotation(problems)
        before = AnnotationInput.from_annotation(annotation).values()
        after = values.values()
        updated = aq.update_versioned(session, annotation_id=annotation_id, expected_version=expected_version,
                                      values=after)
        audit.record(session, user=user, action="edit_annotation", entity="annotation", entity_id=annotation_id,
                     detail={"clip_id": updated.clip_id, "version": updated.version,
                             "changed": sorted(k for k in after if after.get(k) != before.get(k))})
    return updated


@with_session
def undo_submit(session: Session, *, user: User, annotation_id: int) -> Annotation:
    """Take back the user's own submission: it becomes a draft again and its clip the user's current one.

    Refused (Adjudicated) once a consensus exists for the clip: by then the submission has been used.
    The user's slot on the clip goes from done back to a live lease (the same slot, so the clip's
    capacity never overflows); the lease keeps its first `leased_at`, so the clip comes before any
    clip leased since. The queue version is bumped: the clip may reopen if that lease runs out.
    """
    require(user, Role.annotator, action="take back a submission")
    with write_transaction(session):
        annotation = aq.get(session, annotation_id=annotation_id)
        if annotation is None or annotation.user_id != user.id:
            raise PermissionDenied("You can take back only your own submissions.")
        clip = q.lock_clip(session, clip_id=annotation.clip_id)
        session.refresh(annotation)
        if annotation.status != AnnotationStatus.submitted.value:
            raise QueueError("Only a submitted annotation can be taken back.")
        if aq.adjudicated_clip_ids(session, clip_ids=[annotation.clip_id]):
            raise Adjudicated("This clip has been adjudicated; the submission can no longer be taken back.")
        dataset = clip_queries.get_dataset(session, dataset_id=clip.dataset_id)
        now = utcnow()
        assignment = q.assignment_for(session, clip_id=clip.id, user_id=user.id)
        holds_slot = assignment is not None and assignment.state == q.DONE
        if not holds_slot and q.taken_slots(session, clip_id=clip.id, now=now,
                                            exclude_user_id=user.id) >= q.clip_capacity(clip, dataset):
            raise LeaseLost("The clip's slots went to other annotators meanwhile; change your submission "
                            "with “Previous clip” instead.")
        if assignment is None:
            q.upsert_lease(session, clip_id=clip.id, user_id=user.id, expires_at=now + lease_length(dataset), now=now)
        else:
            if assignment.expires_at is not None:  # a lead's reservation (no expiry) stays one
                q.extend_lease(session, assignment=assignment, until=now + lease_length(dataset))
            q.finish(session, assignment=assignment, state=q.ACTIVE)
        q.bump_queue_version(session, dataset_id=clip.dataset_id)
        undone = aq.update_versioned(session, annotation_id=annotation.id, expected_version=annotation.version,
                                     values={"status": AnnotationStatus.draft.value, "submitted_at": None})
    return undone


# --- reading ---------------------------------------------------------------------


@dataclass
class WorkRow:
    annotation: Annotation
    clip: Clip
    adjudicated: bool

    @property
    def editable(self) -> bool:
        return self.annotation.status == AnnotationStatus.submitted.value and not self.adjudicated


@with_session
def my_work(session: Session, *, user: User, dataset_id: int | None = None) -> list[WorkRow]:
    """The user's own submitted and skipped annotations, newest first. Never anyone else's."""
    require(user, Role.annotator, action="see your annotations")
    rows = aq.list_for_user(session, user_id=user.id, dataset_id=dataset_id)
    frozen = aq.adjudicated_clip_ids(session, clip_ids=[clip.id for _, clip in rows])
    return [WorkRow(annotation=a, clip=c, adjudicated=c.id in frozen) for a, c in rows]


@with_session
def recent_submissions(session: Session, *, user: User, dataset_id: int | None = None,
                       limit: int = 10) -> list[WorkRow]:
    """The user's own latest submissions (not skips), newest first, each saying whether it is still editable."""
    require(user, Role.annotator, action="see your annotations")
    rows = aq.list_for_user(session, user_id=user.id, dataset_id=dataset_id,
                            statuses=(AnnotationStatus.submitted.value,), limit=limit)
    frozen = aq.adjudicated_clip_ids(session, clip_ids=[clip.id for _, clip in rows])
    return [WorkRow(annotation=a, clip=c, adjudicated=c.id in frozen) for a, c in rows]


@dataclass
class Progress:
    done_today: int
    skipped_today: int
    remaining: int
    median_seconds: float | None


# The dataset-wide part of an annotator's progress (open slots: a count over every lease) is shared by all
# annotators of the dataset and may lag this long; their own counts are always fresh.
DATASET_COUNTS_TTL = 30.0
_dataset_counts: dict[tuple, tuple[float, int, int]] = {}
_dataset_counts_guard = threading.Lock()


def _ready_and_open(session: Session, *, dataset: Dataset) -> tuple[int, int]:
    key = (session.get_bind().url.render_as_string(hide_password=True), dataset.id, dataset.overlap,
           dataset.queue_version)
    with _dataset_counts_guard:
        cached = _dataset_counts.get(key)
    if cached is not None and monotonic() - cached[0] < DATASET_COUNTS_TTL:
        return cached[1], cached[2]
    counts = (progress_queries.ready_clip_count(session, dataset_id=dataset.id),
              progress_queries.open_slots(session, dataset=dataset))
    with _dataset_counts_guard:
        if len(_dataset_counts) > 1000:
            _dataset_counts.clear()
        _dataset_counts[key] = (monotonic(), *counts)
    return counts


@with_session
def progress(session: Session, *, user: User, dataset_id: int) -> Progress:
    """Done today (UTC), clips left for the user (the current one included), median seconds per clip."""
    dataset = clip_queries.get_dataset(session, dataset_id=dataset_id)
    if dataset is None:
        raise QueueError(f"No dataset with id {dataset_id}.")
    midnight = datetime.combine(utcnow().date(), time(0), tzinfo=UTC)
    ready, open_slots = _ready_and_open(session, dataset=dataset)
    finished_by_user, mine_now = progress_queries.annotator_own_counts(session, user_id=user.id,
                                                                       dataset_id=dataset_id, now=utcnow())
    # Open slots plus the clips the user holds, capped by the clips the user has not finished.
    remaining = min(open_slots + mine_now, max(0, ready - finished_by_user))
    seconds = aq.seconds_for_user(session, user_id=user.id)
    return Progress(
        done_today=aq.count_since(session, user_id=user.id, since=midnight),
        skipped_today=aq.count_since(session, user_id=user.id, since=midnight, status=AnnotationStatus.skipped.value),
        remaining=remaining,
        median_seconds=statistics.median(seconds) if seconds else None,
    )


@with_session
def datasets_for(session: Session, *, user: User) -> list[Dataset]:
    require(user, Role.annotator, Role.lead, action="list datasets")
    return list(clip_queries.list_datasets(session))


@with_session
def get_user(session: Session, *, user_id: int | None) -> User | None:
    """The active user with this id, loaded in the caller's session (for page callbacks that write)."""
    user = user_queries.get_user(session, user_id=user_id) if user_id is not None else None
    return user if user is not None and user.active else None
