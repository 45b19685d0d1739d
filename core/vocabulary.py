"""The fixed vocabulary every part of ClueLab speaks: aspects, label sets, ratings, roles."""

from __future__ import annotations

from enum import Enum


class Aspect(str, Enum):
    """The four clue aspects, in display order."""

    facial = "facial"
    vocal = "vocal"
    verbal = "verbal"
    scene = "scene"

    @property
    def title(self) -> str:
        return ASPECT_TITLES[self]["en"]

    def title_in(self, language: str) -> str:
        return ASPECT_TITLES[self]["zh" if language.startswith("zh") else "en"]

    @property
    def describes(self) -> str:
        return ASPECT_DESCRIBES[self]


ASPECTS: tuple[Aspect, ...] = tuple(Aspect)

ASPECT_TITLES: dict[Aspect, dict[str, str]] = {
    Aspect.facial: {"en": "Facial expression & body", "zh": "面部表情与肢体"},
    Aspect.vocal: {"en": "Tone & intonation", "zh": "语气与语调"},
    Aspect.verbal: {"en": "Speech content", "zh": "言语内容"},
    Aspect.scene: {"en": "Video content & environment", "zh": "视频内容与环境"},
}

ASPECT_DESCRIBES: dict[Aspect, str] = {
    Aspect.facial: "brows, eyes, mouth, head and body movement, gestures; action units where known",
    Aspect.vocal: "pitch, loudness, speaking rate, voice quality, pauses",
    Aspect.verbal: "what is said, its wording and sentiment, in context",
    Aspect.scene: "setting, other people, events, objects, lighting",
}

# Label sets a dataset may choose; the first is the default.
LABEL_SETS: dict[str, tuple[str, ...]] = {
    "mer2023": ("neutral", "angry", "happy", "sad", "worried", "surprise"),
    "merr": ("neutral", "angry", "happy", "sad", "worried", "surprise", "fear", "contempt", "doubt"),
    "dfew": ("happy", "sad", "neutral", "angry", "surprise", "disgust", "fear"),
}
DEFAULT_LABEL_SET = "mer2023"

# EMER human-evaluation scale for the model's reasoning.
REASONING_RATINGS: dict[int, str] = {
    1: "completely wrong",
    2: "correct in a small part",
    3: "mostly correct",
    4: "completely correct",
}


class Role(str, Enum):
    annotator = "annotator"
    researcher = "researcher"
    lead = "lead"
    admin = "admin"


class AnnotationStatus(str, Enum):
    draft = "draft"
    submitted = "submitted"
    skipped = "skipped"


class ClipStatus(str, Enum):
    """Where a clip's media stands after import."""

    pending = "pending"  # imported, media not processed yet
    processing = "processing"  # an ingest run holds it (Clip.claimed_by) and is processing its media
    ready = "ready"  # media processed (or nothing to process: text-only)
    error = "error"  # media could not be processed; `error` says why


class Coverage(str, Enum):
    """How far a clip got: no submitted annotation, some, as many as it wants, adjudicated.

    `skipped` is a filter only (a clip with at least one skip); it is not one of the exclusive states.
    """

    none = "none"
    partial = "partial"
    complete = "complete"
    adjudicated = "adjudicated"
    skipped = "skipped"


COVERAGE_TITLES: dict[str, str] = {
    Coverage.none.value: "not annotated", Coverage.partial.value: "partly annotated",
    Coverage.complete.value: "fully annotated, awaiting adjudication", Coverage.adjudicated.value: "adjudicated",
    Coverage.skipped.value: "skipped by someone",
}


class JobState(str, Enum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


class QueueStrategy(str, Enum):
    uncertainty = "uncertainty"
    random = "random"
    sequential = "sequential"


class SkipReason(str, Enum):
    """Why an annotator skipped a clip."""

    bad_media = "bad_media"
    cant_tell = "cant_tell"
    other = "other"


SKIP_REASON_TITLES: dict[str, str] = {
    SkipReason.bad_media.value: "Bad media", SkipReason.cant_tell.value: "Can't tell", SkipReason.other.value: "Other",
}


class ConsensusMethod(str, Enum):
    """How a consensus emotion was decided (an edited proposal appends "+edited")."""

    majority = "majority"
    dawid_skene = "dawid_skene"


class StudyStatus(str, Enum):
    draft = "draft"
    open = "open"
    closed = "closed"


class StudyKind(str, Enum):
    """What raters do in a study: rate each output 1-4, or pick the better of two (EmoPrefer / MER-Prefer)."""

    rating = "rating"
    preference = "preference"


class PreferenceChoice(str, Enum):
    """A preference answer as the rater saw the pair."""

    a = "A"
    b = "B"
    same = "same"


class RevokeReason(str, Enum):
    """Why a sign-in session stopped working before it expired (stored on the session row)."""

    signed_out = "signed_out"
    password_changed = "password_changed"
    deactivated = "deactivated"


class SignInRefusal(str, Enum):
    """Why a sign-in attempt was not accepted; the sign-in page words each one."""

    wrong_credentials = "wrong_credentials"
    slow_down = "slow_down"  # a growing delay after repeated failures from one client
    locked = "locked"  # too many failures: refused until the lock expires
