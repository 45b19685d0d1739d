"""SQLModel tables: the whole data model of ClueLab.

JSON columns hold small structured values (clues keyed by aspect, label
distributions, settings). Timestamps are timezone-aware UTC on every backend.
Annotation and Consensus carry a `version` for optimistic locking: updates go
through `db.queries`, which refuses a write whose expected version is stale.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import JSON, Field, SQLModel

from core.vocabulary import (
    DEFAULT_LABEL_SET,
    LABEL_SETS,
    AnnotationStatus,
    ClipStatus,
    JobState,
    QueueStrategy,
    StudyKind,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores UTC; always returns aware datetimes (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect):  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _when() -> Any:
    return Field(default=None, sa_type=UTCDateTime)


# --- people -----------------------------------------------------------------


class User(SQLModel, table=True):
    # Names are unique whatever their case: "Admin" cannot stand beside "admin".
    __table_args__ = (sa.Index("uq_user_username_lower", sa.func.lower(sa.column("username")), unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True, min_length=1, max_length=64)
    display_name: str = Field(default="", max_length=128)
    password_hash: str
    roles: list[str] = Field(default_factory=list, sa_type=JSON)
    active: bool = True
    created_at: datetime = _created()


class SignInSession(SQLModel, table=True):
    """A signed-in browser: the cookie carries a signed random token, stored here only as its SHA-256,
    so the server can end it (sign-out, password change, deactivation) before it expires."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = _created()
    last_seen_at: datetime = _created()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    user_agent: str = Field(default="", max_length=256)
    client: str = Field(default="", max_length=128)
    # Set once the server has put the token into an HttpOnly cookie: the hand-off code is single-use.
    cookie_set_at: datetime | None = _when()
    revoked_at: datetime | None = _when()
    revoke_reason: str | None = Field(default=None, max_length=32)


class SignInAttempt(SQLModel, table=True):
    """One checked sign-in (right or wrong password), for throttling across server processes."""

    __table_args__ = (
        sa.Index("ix_signinattempt_username_at", "username", "at"),
        sa.Index("ix_signinattempt_client_at", "client", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The name as typed, normalised (lower case, cut to 64): unknown names are throttled too.
    username: str = Field(max_length=64)
    client: str = Field(max_length=128)
    succeeded: bool = False
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)


# --- data -------------------------------------------------------------------


class Dataset(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, min_length=1, max_length=128)
    description: str = ""
    label_set: list[str] = Field(default_factory=lambda: list(LABEL_SETS[DEFAULT_LABEL_SET]), sa_type=JSON)
    open_vocabulary: bool = False
    # "auto" detects per clip; "en" or "zh" fixes the clue language.
    language: str = Field(default="auto", max_length=8)
    overlap: int = Field(default=3, ge=1, le=50)
    strategy: str = Field(default=QueueStrategy.uncertainty.value, max_length=16)
    lease_minutes: int = Field(default=30, ge=1)
    # Thresholds and other per-dataset options (auto-accept, random seed, ...).
    settings: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    is_synthetic: bool = False
    # Bumped by every change that can reopen filled clips (an overlap raised, a clip sent back), so each
    # server process drops its memory of the queue's filled prefix at its next claim.
    queue_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = _created()


class Clip(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("dataset_id", "name", name="uq_clip_dataset_name"),
        sa.Index("ix_clip_dataset_hash", "dataset_id", "content_hash"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dataset_id: int = Field(foreign_key="dataset.id", index=True)
    # The clip's id in its source (file stem or manifest name); unique per dataset.
    name: str = Field(max_length=255)
    source_path: str | None = None
    content_hash: str | None = Field(default=None, max_length=64)
    status: str = Field(default=ClipStatus.pending.value, max_length=16, index=True)
    error: str | None = None
    # Derived media, relative to the data directory.
    video_path: str | None = None
    audio_path: str | None = None
    thumbnail_path: str | None = None
    frames_dir: str | None = None
    peaks: list[float] = Field(default_factory=list, sa_type=JSON)
    duration: float | None = None
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    has_video: bool = False
    has_audio: bool = False
    size_bytes: int | None = None
    # Transcript: plain text plus optional word timings [{"word", "start", "end"}].
    transcript: str = ""
    transcript_words: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    transcript_source: str | None = Field(default=None, max_length=16)  # subtitle | manifest | asr
    language: str | None = Field(default=None, max_length=8)
    speaker: str | None = Field(default=None, max_length=128)
    # A label that came with the import (a dataset's own ground truth), if any.
    source_emotion: str | None = Field(default=None, max_length=64)
    # Raised by a lead who sends the clip back for more annotations.
    overlap_override: int | None = None
    meta: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = _created()
    ingested_at: datetime | None = _when()
    # While its media is processed (status `processing`): which ingest run holds the clip, renewed as it works.
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = _when()


class ClipFeature(SQLModel, table=True):
    """Cached feature extraction per clip, so retraining never recomputes it."""

    __table_args__ = (sa.UniqueConstraint("clip_id", "extractor", "extractor_version", name="uq_feature"),)

    id: int | None = Field(default=None, primary_key=True)
    clip_id: int = Field(foreign_key="clip.id", index=True)
    extractor: str = Field(max_length=64)
    extractor_version: str = Field(max_length=32)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    error: str | None = None
    created_at: datetime = _created()


class Reference(SQLModel, table=True):
    """Reasoning or labels from a named outside source (e.g. `emer-gt`), not a person."""

    __table_args__ = (sa.UniqueConstraint("clip_id", "source", name="uq_reference_clip_source"),)

    id: int | None = Field(default=None, primary_key=True)
    clip_id: int = Field(foreign_key="clip.id", index=True)
    source: str = Field(max_length=64, index=True)
    emotion: str | None = Field(default=None, max_length=64)
    # Open-vocabulary emotion words (OV-MER / MER-FG), as the source wrote them.
    emotion_words: list[str] = Field(default_factory=list, sa_type=JSON)
    clues: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    reasoning: str = ""
    language: str | None = Field(default=None, max_length=8)
    # Other-language versions: {"zh": {"reasoning": ..., "clues": {...}}}.
    translations: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    spans: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    meta: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = _created()


# --- model ------------------------------------------------------------------


class ModelVersion(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    backend: str = Field(max_length=32)
    name: str = Field(max_length=128)
    parent_id: int | None = Field(default=None, foreign_key="modelversion.id")
    dataset_id: int | None = Field(default=None, foreign_key="dataset.id")
    # Frozen training data: consensus ids and a content hash.
    snapshot: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    artifacts_path: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    config: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    is_active: bool = Field(default=False, index=True)
    promoted_by_id: int | None = Field(default=None, foreign_key="user.id")
    promoted_at: datetime | None = _when()
    created_at: datetime = _created()


class Prediction(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("clip_id", "model_version_id", name="uq_prediction_clip_version"),)

    id: int | None = Field(default=None, primary_key=True)
    clip_id: int = Field(foreign_key="clip.id", index=True)
    model_version_id: int = Field(foreign_key="modelversion.id", index=True)
    clues: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    emotion: str | None = Field(default=None, max_length=64)
    # Open-vocabulary emotion words the model proposes (any words; the emotion wheel scores them).
    emotion_words: list[str] = Field(default_factory=list, sa_type=JSON)
    distribution: dict[str, float] = Field(default_factory=dict, sa_type=JSON)
    uncertainty: float | None = Field(default=None, index=True)
    # [{"aspect", "start", "end", "label"}] grounding clues in time.
    spans: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = _created()


# --- annotation ---------------------------------------------------------------


class Assignment(SQLModel, table=True):
    """A lease of one clip slot to one annotator; at most one per (clip, user)."""

    __table_args__ = (sa.UniqueConstraint("clip_id", "user_id", name="uq_assignment_clip_user"),)

    id: int | None = Field(default=None, primary_key=True)
    clip_id: int = Field(foreign_key="clip.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    # active: leased; done: annotation submitted or skipped; released: expired or given up.
    state: str = Field(default="active", max_length=16, index=True)
    assigned_by_id: int | None = Field(default=None, foreign_key="user.id")
    leased_at: datetime = _created()
    expires_at: datetime | None = _when()


class Annotation(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("clip_id", "user_id", name="uq_annotation_clip_user"),)

    id: int | None = Field(default=None, primary_key=True)
    clip_id: int = Field(foreign_key="clip.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    prediction_id: int | None = Field(default=None, foreign_key="prediction.id")
    clues: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    no_evidence: list[str] = Field(default_factory=list, sa_type=JSON)
    emotion: str | None = Field(default=None, max_length=64)
    emotion_other: str | None = Field(default=None, max_length=128)
    # The annotator's set of open-vocabulary emotion words (datasets with open_vocabulary).
    emotion_words: list[str] = Field(default_factory=list, sa_type=JSON)
    rating: int | None = Field(default=None, ge=1, le=4)
    confidence: int | None = Field(default=None, ge=1, le=5)
    note: str = ""
    status: str = Field(default=AnnotationStatus.draft.value, max_length=16, index=True)
    skip_reason: str | None = Field(default=None, max_length=64)
    seconds_spent: float = 0.0
    version: int = Field(default=1, nullable=False)
    created_at: datetime = _created()
    updated_at: datetime = _created()
    submitted_at: datetime | None = _when()


class Consensus(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("clip_id", "revision", name="uq_consensus_clip_revision"),)

    id: int | None = Field(default=None, primary_key=True)
    clip_id: int = Field(foreign_key="clip.id", index=True)
    # 1, 2, ... per clip; re-adjudicating adds a revision, nothing is overwritten.
    revision: int = 1
    is_current: bool = Field(default=True, index=True)
    emotion: str | None = Field(default=None, max_length=64)
    # The agreed set of open-vocabulary emotion words.
    emotion_words: list[str] = Field(default_factory=list, sa_type=JSON)
    posterior: dict[str, float] = Field(default_factory=dict, sa_type=JSON)
    clues: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    rating_median: float | None = None
    rating_spread: float | None = None
    method: str = Field(default="majority", max_length=32)
    source_annotation_ids: list[int] = Field(default_factory=list, sa_type=JSON)
    auto_accepted: bool = False
    accepted_by_id: int | None = Field(default=None, foreign_key="user.id")
    accepted_at: datetime = _created()
    note: str = ""
    version: int = Field(default=1, nullable=False)


# --- evaluation studies -------------------------------------------------------


class Study(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128)
    description: str = ""
    dataset_id: int | None = Field(default=None, foreign_key="dataset.id")
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    systems: list[str] = Field(default_factory=list, sa_type=JSON)
    settings: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    status: str = Field(default="draft", max_length=16)
    # rating: each output rated 1-4; preference: two outputs side by side, A, B or same.
    kind: str = Field(default=StudyKind.rating.value, max_length=16)
    created_at: datetime = _created()


class StudyItem(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    clip_id: int = Field(foreign_key="clip.id")
    system: str = Field(max_length=64)
    emotion: str | None = Field(default=None, max_length=64)
    clues: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    text: str = ""
    position: int = 0


class StudyRating(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("study_item_id", "rater_id", name="uq_study_rating"),)

    id: int | None = Field(default=None, primary_key=True)
    study_item_id: int = Field(foreign_key="studyitem.id", index=True)
    rater_id: int = Field(foreign_key="user.id", index=True)
    rating: int = Field(ge=1, le=4)
    comment: str = ""
    created_at: datetime = _created()


class PreferenceAnswer(SQLModel, table=True):
    """One rater's answer on one pair of a preference study, stored in the pair's canonical order.

    A pair is two items of one clip, `first_item_id` being the system listed first in the study.
    `repeat` is 0 for the first showing and 1 for the swapped repeat that measures consistency;
    `shown_first` says whether the first item was on side A. `preferred_item_id` is None for "same".
    """

    __table_args__ = (sa.UniqueConstraint("study_id", "rater_id", "first_item_id", "second_item_id", "repeat",
                                          name="uq_preference_answer"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    clip_id: int = Field(foreign_key="clip.id")
    rater_id: int = Field(foreign_key="user.id", index=True)
    first_item_id: int = Field(foreign_key="studyitem.id")
    second_item_id: int = Field(foreign_key="studyitem.id")
    repeat: int = Field(default=0, ge=0, le=1)
    shown_first: bool = True
    choice: str = Field(max_length=8)  # as the rater saw it: A, B or same
    preferred_item_id: int | None = Field(default=None, foreign_key="studyitem.id")
    created_at: datetime = _created()


# --- operations ---------------------------------------------------------------


class Job(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32, index=True)
    state: str = Field(default=JobState.queued.value, max_length=16, index=True)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    result: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    total: int = 0
    done: int = 0
    failed: int = 0
    message: str = ""
    log: str = ""
    error: str | None = None
    cancel_requested: bool = False
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    # Whose roles the job acts with: its creator, then whoever retried it (the command line: run_as_cli).
    run_as_id: int | None = Field(default=None, foreign_key="user.id")
    run_as_cli: bool = False
    # The worker running it ("host:pid:boot"), so a restarted worker recognises its dead predecessor's jobs.
    worker: str | None = Field(default=None, max_length=128)
    attempts: int = 0  # runs started, recovered runs included
    created_at: datetime = _created()
    started_at: datetime | None = _when()
    finished_at: datetime | None = _when()
    heartbeat_at: datetime | None = _when()

    @property
    def progress(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, (self.done + self.failed) / self.total)


class PredictShard(SQLModel, table=True):
    """One slice of a sharded predict run. A worker claims it (an UPDATE that succeeds only while the
    shard is unclaimed or its worker's heartbeat is stale), beats while it works, and finishes it."""

    __table_args__ = (sa.UniqueConstraint("plan", "position", name="uq_predictshard_plan_position"),)

    id: int | None = Field(default=None, primary_key=True)
    plan: str = Field(max_length=64, index=True)
    position: int = 0
    dataset_id: int = Field(foreign_key="dataset.id")
    model_version_id: int = Field(foreign_key="modelversion.id")
    clip_ids: list[int] = Field(default_factory=list, sa_type=JSON)
    state: str = Field(default=JobState.queued.value, max_length=16)
    worker: str | None = Field(default=None, max_length=128)
    attempts: int = 0
    # Clips this shard's workers predicted (each once) and those that failed, with the reason.
    predicted_ids: list[int] = Field(default_factory=list, sa_type=JSON)
    failed: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    claimed_at: datetime | None = _when()
    heartbeat_at: datetime | None = _when()
    finished_at: datetime | None = _when()
    created_at: datetime = _created()


class AuditLog(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    action: str = Field(max_length=64, index=True)
    entity: str = Field(default="", max_length=32)
    entity_id: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)


ALL_TABLES = [
    User, SignInSession, SignInAttempt, Dataset, Clip, ClipFeature, Reference, ModelVersion, Prediction, Assignment,
    Annotation, Consensus, Study, StudyItem, StudyRating, PreferenceAnswer, Job, PredictShard, AuditLog,
]
