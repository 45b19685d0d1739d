"""Adjudication: propose a clip's consensus, let a lead accept or send it back, auto-accept clear cases.

Every function that writes takes the acting user and requires the lead role.
Thresholds live in `Dataset.settings`:
- `auto_accept_posterior` (e.g. 0.9): the emotion's posterior must reach it;
- `auto_accept_clue_agreement` (e.g. 0.7): every aspect that two or more
  annotators described must reach this mean clue similarity;
- `clue_merge_similarity` (default 0.6): how alike sentences must be to merge;
- `open_vocabulary_wheel` (default "wheel1/level1"): the wheel and level on which open-vocabulary
  word sets are compared; the proposed set holds the categories a majority reached.
Without `auto_accept_posterior` nothing is accepted automatically.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlmodel import Session

from annotation.agreement.clues import clip_similarity, default_embed
from annotation.evaluation.word_sets import (
    DEFAULT_LEVEL,
    DEFAULT_WHEEL,
    CategoryVote,
    clean_words,
    propose_word_set,
    wheel_choices,
)
from annotation.labelling.consensus import (
    DEFAULT_CLUE_SIMILARITY,
    DawidSkeneResult,
    EmotionConsensus,
    MergedClue,
    RatingConsensus,
    Vote,
    dawid_skene,
    majority_vote,
    merge_clues,
    merge_sentences,
    rating_consensus,
)
from annotation.permissions import require
from annotation.refreshing import RefreshingCache
from core.vocabulary import ASPECTS, AnnotationStatus, Aspect, ConsensusMethod, Role
from db.engine import get_engine, session_scope, unit_of_work, with_session
from db.models import Annotation, Clip, Consensus, Dataset, Prediction, User
from db.queries import assignments as assignment_queries
from db.queries import audit
from db.queries import clips as clip_queries
from db.queries import consensus as queries
from db.queries import model_versions as version_queries
from db.queries import predictions as prediction_queries
from db.queries.consensus import ConsensusConflict

__all__ = [
    "AspectProposal", "AutoAcceptReport", "ConsensusConflict", "ConsensusInUse", "Proposal", "QueueItem", "accept",
    "AdjudicationQueue", "adjudication_queue", "auto_accept", "cached_queue", "data_version", "dataset_emotion_model",
    "propose", "queue_decided", "queue_reopened", "send_back", "undo_accept", "vote_label", "word_metric",
]

_LOG = logging.getLogger(__name__)
# Below this many clips with two or more votes, Dawid-Skene has too little to learn confusions from.
MIN_CLIPS_FOR_DAWID_SKENE = 20
Embed = Callable[[Sequence[str]], np.ndarray]
_AS_PROPOSED = object()


def vote_label(annotation: Annotation) -> str | None:
    """The emotion an annotation voted for; an open-vocabulary answer counts as itself."""
    if annotation.emotion_other and annotation.emotion_other.strip():
        return annotation.emotion_other.strip().lower()
    return annotation.emotion


@dataclass
class AspectProposal:
    aspect: Aspect
    clues: dict[int, str]  # annotation id -> text
    model_text: str
    merged: MergedClue
    agreement: float | None  # mean pairwise similarity, None with fewer than two clues


@dataclass
class Proposal:
    clip: Clip
    dataset: Dataset
    annotations: list[Annotation]  # submitted, the sources
    skipped: list[Annotation]
    prediction: Prediction | None
    emotion: EmotionConsensus | None
    rating: RatingConsensus | None
    aspects: dict[Aspect, AspectProposal]
    current: Consensus | None
    auto_acceptable: bool = False
    reasons: list[str] = field(default_factory=list)
    # Open vocabulary: the majority word set and every category with the raw words behind it.
    emotion_words: list[str] = field(default_factory=list)
    word_votes: list[CategoryVote] = field(default_factory=list)
    word_metric: str = f"{DEFAULT_WHEEL}/{DEFAULT_LEVEL}"

    @property
    def source_annotation_ids(self) -> list[int]:
        return [a.id for a in self.annotations]

    @property
    def clue_agreement(self) -> float | None:
        values = [p.agreement for p in self.aspects.values() if p.agreement is not None]
        return min(values) if values else None

    @property
    def agreement(self) -> float:
        """The weakest link: the lower of the emotion's posterior and the least agreed aspect."""
        parts = [self.emotion.confidence] if self.emotion else []
        if self.clue_agreement is not None:
            parts.append(self.clue_agreement)
        return min(parts) if parts else 0.0


@dataclass(frozen=True)
class QueueItem:
    clip_id: int
    clip_name: str
    n_annotations: int
    emotion: str | None
    emotion_confidence: float | None
    clue_agreement: float | None
    agreement: float
    has_consensus: bool


@with_session
def dataset_emotion_model(session: Session, *, dataset_id: int) -> DawidSkeneResult | None:
    """Dawid-Skene over the dataset's submitted votes, or None when there are too few clips for it."""
    dataset = clip_queries.get_dataset(session, dataset_id=dataset_id)
    if dataset is None:
        raise LookupError(f"dataset {dataset_id} does not exist")
    return _emotion_model(dataset, queries.submitted_votes(session, dataset_id=dataset_id))


def _emotion_model(dataset: Dataset, rows: list[tuple]) -> DawidSkeneResult | None:
    votes = [Vote(clip_id, user_id, label) for _, clip_id, user_id, emotion, other, _ in rows
             if (label := _vote_label(emotion, other))]
    per_clip = defaultdict(int)
    for vote in votes:
        per_clip[vote.clip] += 1
    if sum(1 for n in per_clip.values() if n >= 2) < MIN_CLIPS_FOR_DAWID_SKENE:
        return None
    return dawid_skene(votes, dataset.label_set)


def word_metric(dataset: Dataset) -> str:
    """The wheel/level on which this dataset's word sets are compared."""
    metric = str((dataset.settings or {}).get("open_vocabulary_wheel", f"{DEFAULT_WHEEL}/{DEFAULT_LEVEL}"))
    if metric not in dict(wheel_choices()):
        raise ValueError(f"dataset setting open_vocabulary_wheel must be one of {[k for k, _ in wheel_choices()]}")
    return metric


def _settings_float(dataset: Dataset, key: str) -> float | None:
    value = (dataset.settings or {}).get(key)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"dataset setting {key} must be a number, got {value!r}") from error


@with_session
def propose(
    session: Session, *, clip_id: int, emotion_model: DawidSkeneResult | None = None, embed: Embed | None = None
) -> Proposal:
    """The proposed consensus of one clip from its submitted annotations (read-only).

    With the default encoder (the page) the clue merge is remembered per clip content and the next queued
    clip's is worked out in the background."""
    return _propose(session, clip_id=clip_id, emotion_model=emotion_model, embed=embed, ahead=embed is None)


def _propose(session: Session, *, clip_id: int, emotion_model: DawidSkeneResult | None, embed: Embed | None,
             ahead: bool) -> Proposal:
    clip = clip_queries.get_clip(session, clip_id=clip_id)
    if clip is None:
        raise LookupError(f"clip {clip_id} does not exist")
    dataset = clip_queries.get_dataset(session, dataset_id=clip.dataset_id)
    finished = queries.clip_annotations(session, clip_id=clip_id)
    submitted = [a for a in finished if a.status == AnnotationStatus.submitted.value]
    skipped = [a for a in finished if a.status == AnnotationStatus.skipped.value]
    prediction = prediction_queries.prediction_for_adjudication(session, clip_id=clip_id, dataset_id=clip.dataset_id,
                                                                annotations=finished)

    votes = [Vote(clip_id, a.user_id, label) for a in submitted if (label := vote_label(a))]
    # Dawid-Skene for this clip's votes as they are now (the model may predate the latest of them).
    emotion = emotion_model.consensus_for(clip_id, votes) if emotion_model is not None else None
    if emotion is None and votes:
        emotion = majority_vote(votes, dataset.label_set)[clip_id]

    similarity = float((dataset.settings or {}).get("clue_merge_similarity", DEFAULT_CLUE_SIMILARITY))
    if ahead:  # the page: remembered per clip content, and the next queued clip worked out ahead
        merged = _clue_parts(session, submitted, similarity)
        _warm_next(session, dataset_id=clip.dataset_id, clip_id=clip_id)
    else:
        merged = _merge_aspects(submitted, similarity, embed)
    aspects = {
        aspect: AspectProposal(
            aspect=aspect, clues=texts,
            model_text=(prediction.clues or {}).get(aspect.value, "") if prediction else "",
            merged=merged_clue, agreement=agreement)
        for aspect, (texts, merged_clue, agreement) in merged.items()
    }

    proposal = Proposal(
        clip=clip, dataset=dataset, annotations=submitted, skipped=skipped, prediction=prediction, emotion=emotion,
        rating=rating_consensus([a.rating for a in submitted]), aspects=aspects,
        current=queries.current_consensus(session, clip_id=clip_id),
    )
    if dataset.open_vocabulary:
        proposal.word_metric = word_metric(dataset)
        proposal.emotion_words, proposal.word_votes = propose_word_set(
            {a.id: a.emotion_words or [] for a in submitted}, metric=proposal.word_metric)
    proposal.auto_acceptable, proposal.reasons = _auto_acceptable(proposal)
    return proposal


_Parts = dict[Aspect, tuple[dict[int, str], MergedClue, float | None]]


def _merge_aspects(submitted: Sequence[Annotation], similarity: float, embed: Embed | None) -> _Parts:
    """Per aspect: the annotators' clues, their merge and their agreement."""
    by_aspect = {aspect: {a.id: (a.clues or {}).get(aspect.value, "") for a in submitted} for aspect in ASPECTS}
    if embed is None:  # one embedding call for the whole clip instead of two per aspect (~30 ms each)
        embed = _prefetched(default_embed, [text for texts in by_aspect.values() for text in texts.values()]
                            + [s for texts in by_aspect.values() for s in merge_sentences(texts.values())])
    return {aspect: (texts, merge_clues(texts, embed=embed, similarity=similarity),
                     clip_similarity(list(texts.values()), embed=embed))
            for aspect, texts in by_aspect.items()}


# The clue merge is the slow part of a proposal (sentence embeddings): remembered per clip content (its
# submitted annotations and their clues), and worked out for the next queued clip while the lead reads
# this one, so "Next" and every rerun of the page (an edit, a choice) find it ready.
_PARTS_MEMO_SIZE = 512
_parts_memo: OrderedDict[tuple, _Parts] = OrderedDict()
_parts_busy: dict[tuple, threading.Event] = {}
_parts_guard = threading.Lock()


def _parts_key(session: Session, submitted: Sequence[Annotation], similarity: float) -> tuple:
    url = session.get_bind().url.render_as_string(hide_password=True)
    return (url, similarity, tuple((a.id, tuple(sorted((a.clues or {}).items()))) for a in submitted))


def _clue_parts(session: Session, submitted: Sequence[Annotation], similarity: float) -> _Parts:
    key = _parts_key(session, submitted, similarity)
    while True:
        with _parts_guard:
            if key in _parts_memo:
                _parts_memo.move_to_end(key)
                return _parts_memo[key]
            busy = _parts_busy.get(key)
            if busy is None:
                busy = _parts_busy[key] = threading.Event()
                break
        busy.wait(30)  # a warm-up is on it: its result, not a second computation
    try:
        parts = _merge_aspects(submitted, similarity, None)
        with _parts_guard:
            _parts_memo[key] = parts
            while len(_parts_memo) > _PARTS_MEMO_SIZE:
                _parts_memo.popitem(last=False)
        return parts
    finally:
        with _parts_guard:
            _parts_busy.pop(key, None)
        busy.set()


def _warm_next(session: Session, *, dataset_id: int, clip_id: int) -> None:
    """Work out, in the background, the clue merge of the clip after `clip_id` in the page's cached queue."""
    url = session.get_bind().url.render_as_string(hide_password=True)
    cached = _queues.peek((url, dataset_id))
    following = cached[0].after(clip_id) if cached else None
    if following is None:
        return
    engine = session.get_bind()

    def work() -> None:
        try:
            with Session(engine) as own:
                clip = clip_queries.get_clip(own, clip_id=following)
                dataset = clip_queries.get_dataset(own, dataset_id=clip.dataset_id) if clip else None
                if dataset is None:
                    return
                similarity = float((dataset.settings or {}).get("clue_merge_similarity", DEFAULT_CLUE_SIMILARITY))
                submitted = [a for a in queries.clip_annotations(own, clip_id=following)
                             if a.status == AnnotationStatus.submitted.value]
                _clue_parts(own, submitted, similarity)
        except Exception:  # noqa: BLE001 - only a head start: the page computes it when asked
            _LOG.exception("working out the next proposal (clip %s) failed", following)

    threading.Thread(target=work, daemon=True, name="cluelab-next-proposal").start()


def _prefetched(base: Embed, texts: Sequence[str]) -> Embed:
    """`base`, with `texts` embedded up front in one call; anything else is embedded when asked."""
    table: dict[str, np.ndarray] = {}

    def fill(batch: Sequence[str]) -> None:
        missing = list(dict.fromkeys(t for t in batch if t and t.strip() and t not in table))
        if missing:
            table.update(zip(missing, base(missing), strict=True))

    fill(texts)

    def embed(batch: Sequence[str]) -> np.ndarray:
        batch = list(batch)
        fill(batch)
        if not table:
            return base(batch)
        zero = np.zeros_like(next(iter(table.values())))
        return np.stack([table.get(t, zero) for t in batch]) if batch else np.zeros((0, zero.shape[0]))

    return embed


def _auto_acceptable(proposal: Proposal) -> tuple[bool, list[str]]:
    """Whether the dataset's thresholds accept this proposal without a lead, and why not."""
    posterior_needed = _settings_float(proposal.dataset, "auto_accept_posterior")
    clue_needed = _settings_float(proposal.dataset, "auto_accept_clue_agreement")
    reasons = []
    if posterior_needed is None:
        reasons.append("auto-accept is off for this dataset")
    if len(proposal.annotations) < 2:
        reasons.append("fewer than two submitted annotations")
    if proposal.emotion is None and proposal.dataset.label_set:
        reasons.append("no emotion votes")
    if proposal.dataset.open_vocabulary and proposal.word_votes and not proposal.emotion_words:
        reasons.append("no emotion word has majority support")
    elif posterior_needed is not None and proposal.emotion.confidence < posterior_needed:
        reasons.append(f"emotion posterior {proposal.emotion.confidence:.2f} < {posterior_needed:.2f}")
    for aspect, part in proposal.aspects.items():
        if part.agreement is None:
            continue
        if clue_needed is not None and part.agreement < clue_needed:
            reasons.append(f"{aspect.value} clue agreement {part.agreement:.2f} < {clue_needed:.2f}")
        if not part.merged.text:
            reasons.append(f"no {aspect.value} clue has majority support")
    return not reasons, reasons


@unit_of_work
def accept(
    session: Session,
    *,
    user: User,
    proposal: Proposal,
    emotion: str | None = None,
    clues: dict[str, str] | None = None,
    emotion_words: list[str] | None = None,
    note: str = "",
    auto: bool = False,
    seen_version: int | None | object = _AS_PROPOSED,
) -> Consensus:
    """Store the proposal as the clip's new consensus revision; `emotion`/`clues` are the lead's edits.

    `emotion_words` replaces the proposed open-vocabulary set when given.
    `seen_version` is the version of the current consensus the lead looked at (None: there was none);
    by default the proposal's. Raises PermissionDenied for non-leads and ConsensusConflict when
    someone decided this clip meanwhile.
    """
    require(user, Role.lead, action="accept a consensus")
    if not proposal.annotations:
        raise ValueError("a consensus needs at least one submitted annotation")
    proposed_clues = {a.value: p.merged.text for a, p in proposal.aspects.items()}
    final_clues = {**proposed_clues, **{k: v.strip() for k, v in (clues or {}).items()}}
    unknown = set(final_clues) - {a.value for a in ASPECTS}
    if unknown:
        raise ValueError(f"unknown clue aspects: {sorted(unknown)}")
    proposed_emotion = proposal.emotion.label if proposal.emotion else None
    final_emotion = emotion if emotion is not None else proposed_emotion
    voted = set(proposal.emotion.votes) if proposal.emotion else set()
    allowed = final_emotion is None or final_emotion in proposal.dataset.label_set or final_emotion in voted
    if not allowed and not proposal.dataset.open_vocabulary:
        raise ValueError(f"emotion {final_emotion!r} is not in the dataset's label set")
    final_words = clean_words(emotion_words) if emotion_words is not None else list(proposal.emotion_words)
    method = proposal.emotion.method if proposal.emotion else ConsensusMethod.majority.value
    if final_emotion != proposed_emotion or final_clues != proposed_clues or final_words != proposal.emotion_words:
        method = f"{method}+edited"
    row = queries.add_consensus_revision(
        session,
        clip_id=proposal.clip.id,
        expected_version=(proposal.current.version if proposal.current else None)
        if seen_version is _AS_PROPOSED else seen_version,
        emotion=final_emotion,
        emotion_words=final_words,
        posterior=proposal.emotion.posterior if proposal.emotion else {},
        clues=final_clues,
        rating_median=proposal.rating.median if proposal.rating else None,
        rating_spread=proposal.rating.spread if proposal.rating else None,
        method=method,
        source_annotation_ids=proposal.source_annotation_ids,
        accepted_by_id=None if auto else user.id,
        auto_accepted=auto,
        note=note,
    )
    audit.record(
        session, user=user, action="consensus.auto_accept" if auto else "consensus.accept",
        entity="consensus", entity_id=row.id, detail={"clip_id": proposal.clip.id, "revision": row.revision},
    )
    return row


class ConsensusInUse(RuntimeError):
    """An accepted consensus can no longer be undone: it changed since, or a model was trained on it."""


@unit_of_work
def undo_accept(session: Session, *, user: User, consensus_id: int) -> Consensus | None:
    """Take back an accepted consensus revision: it is deleted (the audit log keeps what it said) and the
    revision before it, if any, is current again (returned). Only while the clip is not yet used: no later
    decision on the clip and no trained model version holding the row in its snapshot."""
    require(user, Role.lead, action="undo an accepted consensus")
    row = session.get(Consensus, consensus_id)
    if row is None:
        raise LookupError(f"consensus {consensus_id} does not exist (already undone?)")
    current = queries.current_consensus(session, clip_id=row.clip_id)
    if current is None or current.id != row.id:
        raise ConsensusInUse(f"the consensus of clip {row.clip_id} changed since revision {row.revision} was "
                             "accepted; it can no longer be undone")
    used_by = version_queries.versions_trained_on(session, consensus_id=row.id)
    if used_by:
        raise ConsensusInUse(f"model version {', '.join(v.name for v in used_by)} was trained on this consensus; "
                             "it can no longer be undone (accept a new revision instead)")
    detail = {"clip_id": row.clip_id, "revision": row.revision, "emotion": row.emotion, "clues": dict(row.clues),
              "emotion_words": list(row.emotion_words), "method": row.method, "note": row.note,
              "source_annotation_ids": list(row.source_annotation_ids)}
    try:
        restored = queries.remove_revision(session, consensus=row)
    except ConsensusConflict as conflict:
        raise ConsensusInUse(str(conflict)) from conflict
    detail["restored_revision"] = restored.revision if restored else None
    audit.record(session, user=user, action="consensus.undo", entity="consensus", entity_id=consensus_id,
                 detail=detail)
    return restored


@unit_of_work
def send_back(session: Session, *, user: User, clip_id: int, extra: int = 1) -> int:
    """Ask for `extra` more annotations of a clip; returns the clip's new overlap."""
    require(user, Role.lead, action="send a clip back for more annotations")
    if extra < 1:
        raise ValueError("send back at least one more annotation")
    clip = clip_queries.get_clip(session, clip_id=clip_id)
    if clip is None:
        raise LookupError(f"clip {clip_id} does not exist")
    dataset = clip_queries.get_dataset(session, dataset_id=clip.dataset_id)
    have = len([a for a in queries.clip_annotations(session, clip_id=clip_id)
                if a.status == AnnotationStatus.submitted.value])
    overlap = max(clip.overlap_override or dataset.overlap, have) + extra
    assignment_queries.set_overlap_override(session, clip=clip, overlap=overlap)
    audit.record(session, user=user, action="clip.send_back", entity="clip", entity_id=clip_id,
                      detail={"overlap": overlap})
    return overlap


@dataclass
class _Waiting:
    clip: Clip
    annotations: list[Annotation]
    has_consensus: bool


def _waiting(session: Session, *, dataset: Dataset) -> list[_Waiting]:
    """Clips with all the annotations they need whose current consensus (if any) misses some of them."""
    by_clip: dict[int, list[Annotation]] = defaultdict(list)
    for a in queries.dataset_annotations(session, dataset_id=dataset.id, statuses=[AnnotationStatus.submitted.value]):
        by_clip[a.clip_id].append(a)
    decided = queries.dataset_consensus(session, dataset_id=dataset.id)
    current = {c.clip_id: set(c.source_annotation_ids) for c in decided}
    clips = queries.clips_by_id(session, clip_ids=by_clip)
    waiting = []
    for clip_id in sorted(by_clip):
        annotations = by_clip[clip_id]
        needed = clips[clip_id].overlap_override or dataset.overlap
        if len(annotations) >= needed and current.get(clip_id) != {a.id for a in annotations}:
            waiting.append(_Waiting(clips[clip_id], annotations, clip_id in current))
    return waiting


def _batch_clue_agreement(waiting: list[_Waiting], embed: Embed | None) -> dict[int, float | None]:
    """Per clip, the least agreed aspect's mean pairwise clue similarity, with one embedding call for all clips."""
    texts, owners = [], []
    for item in waiting:
        for aspect in ASPECTS:
            for a in item.annotations:
                text = (a.clues or {}).get(aspect.value, "")
                if text and text.strip():
                    texts.append(text)
                    owners.append((item.clip.id, aspect))
    vectors = (embed or default_embed)(texts) if texts else np.zeros((0, 1))
    rows: dict[tuple[int, Aspect], list[int]] = defaultdict(list)
    for i, owner in enumerate(owners):
        rows[owner].append(i)
    out: dict[int, float | None] = {item.clip.id: None for item in waiting}
    for (clip_id, _), idx in rows.items():
        if len(idx) < 2:
            continue
        block = vectors[idx] @ vectors[idx].T
        value = float(block[np.triu_indices(len(idx), k=1)].mean())
        out[clip_id] = value if out[clip_id] is None else min(out[clip_id], value)
    return out


# Clue agreement needs every clue embedded; at 100k waiting clips that is over a million sentences. The
# queue computes it for this many clips, those with the weakest emotion agreement first, and remembers
# it per clip (until its annotations change); the rest are ordered by emotion agreement until scored.
CLUE_WINDOW = 300
_CLUE_MEMO_SIZE = 200_000
_clue_memo: dict[tuple, float | None] = {}
_clue_memo_guard = threading.Lock()


class AdjudicationQueue(Sequence):
    """The waiting clips in queue order; items are built when read (a dataset may have 100k waiting)."""

    def __init__(self, rows: list[tuple]):
        # (agreement, clip_id, name, n_annotations, emotion, emotion_confidence, clue_agreement, has_consensus)
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index):  # noqa: ANN001, ANN204 - int or slice, as a list
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        agreement, clip_id, name, n, emotion, confidence, clue, decided = self._rows[index]
        return QueueItem(clip_id=clip_id, clip_name=name, n_annotations=n, emotion=emotion,
                         emotion_confidence=confidence, clue_agreement=clue, agreement=agreement,
                         has_consensus=decided)

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented

    def __repr__(self) -> str:
        return f"AdjudicationQueue({len(self)} clips)"

    def without(self, clip_id: int) -> AdjudicationQueue:
        return AdjudicationQueue([row for row in self._rows if row[1] != clip_id])

    def after(self, clip_id: int) -> int | None:
        """The clip id that follows `clip_id` (the first after the last; None when it is not queued)."""
        if not hasattr(self, "_position"):
            self._position = {row[1]: i for i, row in enumerate(self._rows)}
        i = self._position.get(clip_id)
        if i is None or len(self._rows) < 2:
            return None
        return self._rows[(i + 1) % len(self._rows)][1]


def _clue_agreements(session: Session, *, clips: dict[int, list[tuple[int, object]]], embed: Embed | None,
                     ) -> dict[int, float | None]:
    """Per clip (its submitted annotations as (id, updated_at)), the least agreed aspect's mean pairwise clue
    similarity, remembered per clip until its annotations change; one embedding call for all clips."""
    url = session.get_bind().url.render_as_string(hide_password=True)
    keys = {clip_id: (url, clip_id, tuple(sources), embed) for clip_id, sources in clips.items()}
    with _clue_memo_guard:
        out = {clip_id: _clue_memo[key] for clip_id, key in keys.items() if key in _clue_memo}
    missing = [clip_id for clip_id in clips if clip_id not in out]
    if missing:
        clues = queries.annotation_clues(session, annotation_ids=[i for c in missing for i, _ in clips[c]])
        texts, owners = [], []
        for clip_id in missing:
            for aspect in ASPECTS:
                for annotation_id, _ in clips[clip_id]:
                    text = clues.get(annotation_id, {}).get(aspect.value, "")
                    if text and text.strip():
                        texts.append(text)
                        owners.append((clip_id, aspect))
        vectors = (embed or default_embed)(texts) if texts else np.zeros((0, 1))
        rows: dict[tuple[int, Aspect], list[int]] = defaultdict(list)
        for i, owner in enumerate(owners):
            rows[owner].append(i)
        scored: dict[int, float | None] = dict.fromkeys(missing)
        for (clip_id, _), idx in rows.items():
            if len(idx) < 2:
                continue
            block = vectors[idx] @ vectors[idx].T
            value = float(block[np.triu_indices(len(idx), k=1)].mean())
            scored[clip_id] = value if scored[clip_id] is None else min(scored[clip_id], value)
        out.update(scored)
        with _clue_memo_guard:
            if len(_clue_memo) > _CLUE_MEMO_SIZE:
                _clue_memo.clear()
            _clue_memo.update({keys[clip_id]: scored[clip_id] for clip_id in missing})
    return out


@with_session
def adjudication_queue(
    session: Session, *, dataset_id: int, emotion_model: DawidSkeneResult | None = None, embed: Embed | None = None,
    clue_window: int | None = CLUE_WINDOW,
) -> AdjudicationQueue:
    """Clips awaiting a decision, lowest agreement first (agreement as in `Proposal.agreement`).

    Clue agreement is computed for the `clue_window` clips with the weakest emotion
    agreement (None: for all); a clip without it is placed by its emotion agreement.
    """
    dataset = clip_queries.get_dataset(session, dataset_id=dataset_id)
    if dataset is None:
        raise LookupError(f"dataset {dataset_id} does not exist")
    return _queue(session, dataset=dataset, votes=queries.submitted_votes(session, dataset_id=dataset_id),
                  emotion_model=emotion_model, embed=embed, clue_window=clue_window)


def _queue(session: Session, *, dataset: Dataset, votes: list[tuple], emotion_model: DawidSkeneResult | None,
           embed: Embed | None, clue_window: int | None) -> AdjudicationQueue:
    clips = queries.clip_names_and_overlaps(session, dataset_id=dataset.id)
    decided = queries.current_sources(session, dataset_id=dataset.id)
    by_clip: dict[int, list[tuple]] = defaultdict(list)
    for row in votes:
        by_clip[row[1]].append(row)
    label_order = {label: i for i, label in enumerate(dataset.label_set)}
    waiting = []  # (emotion confidence, clip_id, emotion, n, has_consensus)
    for clip_id, rows in by_clip.items():
        name, override = clips.get(clip_id, (str(clip_id), None))
        if len(rows) < (override or dataset.overlap) or decided.get(clip_id) == {r[0] for r in rows}:
            continue
        best = emotion_model.clips.best(clip_id) if emotion_model is not None and hasattr(
            emotion_model.clips, "best") else None
        if best is None and emotion_model is not None and clip_id in emotion_model.clips:
            consensus = emotion_model.clips[clip_id]
            best = (consensus.label, consensus.confidence)
        if best is None:  # majority vote; ties go to the label listed first, open-vocabulary words after
            counts: dict[str, int] = {}
            for row in rows:
                label = _vote_label(row[3], row[4])
                if label:
                    counts[label] = counts.get(label, 0) + 1
            if counts:
                label = min(counts, key=lambda lab: (-counts[lab], label_order.get(lab, len(label_order)), lab))
                best = (label, counts[label] / sum(counts.values()))
        waiting.append((best[1] if best else None, clip_id, best[0] if best else None, len(rows),
                        clip_id in decided))
    waiting.sort(key=lambda w: (w[0] if w[0] is not None else 0.0, w[1]))
    window = waiting if clue_window is None else waiting[:clue_window]
    clue = _clue_agreements(session, clips={w[1]: sorted((r[0], r[5]) for r in by_clip[w[1]]) for w in window},
                            embed=embed)
    rows = []
    for confidence, clip_id, emotion, n, has_consensus in waiting:
        parts = [confidence] if confidence is not None else []
        if clue.get(clip_id) is not None:
            parts.append(clue[clip_id])
        rows.append((min(parts) if parts else 0.0, clip_id, clips.get(clip_id, (str(clip_id),))[0], n, emotion,
                     confidence, clue.get(clip_id), has_consensus))
    rows.sort(key=lambda row: (row[0], row[1]))
    return AdjudicationQueue(rows)


def _vote_label(emotion: str | None, other: str | None) -> str | None:
    """`vote_label` on plain columns."""
    if other and other.strip():
        return other.strip().lower()
    return emotion


# --- the page's queue: built once per process, then rebuilt in the background ---------------

QUEUE_MAX_AGE = 30.0


def _build(dataset_id: int) -> tuple[AdjudicationQueue, DawidSkeneResult | None]:
    with session_scope() as session:
        dataset = clip_queries.get_dataset(session, dataset_id=dataset_id)
        if dataset is None:
            raise LookupError(f"dataset {dataset_id} does not exist")
        votes = queries.submitted_votes(session, dataset_id=dataset_id)
        model = _emotion_model(dataset, votes)
        return _queue(session, dataset=dataset, votes=votes, emotion_model=model, embed=None,
                      clue_window=CLUE_WINDOW), model


def data_version(dataset_id: int) -> tuple:
    """What the queue depends on, read cheaply: it changes with every submission, skip, decision, send-back
    and overlap change in the dataset (db.queries.consensus.data_version)."""
    with session_scope() as session:
        return queries.data_version(session, dataset_id=dataset_id)


# Rebuilt (in the background) only when the data changed, at most once per QUEUE_MAX_AGE.
_queues: RefreshingCache[tuple[AdjudicationQueue, DawidSkeneResult | None]] = RefreshingCache(
    _build, max_age=QUEUE_MAX_AGE, name="adjudication-queue", version=data_version)


def _cache_key(dataset_id: int) -> tuple:
    return (get_engine().url.render_as_string(hide_password=True), dataset_id)


def cached_queue(dataset_id: int) -> tuple[AdjudicationQueue, DawidSkeneResult | None]:
    """The Adjudicate page's queue and Dawid-Skene model: built on first use (the cold start), then served
    from this process's memory while a background thread rebuilds it once it is older than QUEUE_MAX_AGE and
    its data changed (`data_version`).
    The page takes its own decisions out at once (`queue_decided`); others leave within QUEUE_MAX_AGE."""
    return _queues.get(_cache_key(dataset_id), dataset_id)


def queue_decided(dataset_id: int, clip_id: int) -> None:
    """Take a clip the page just decided (or sent back) out of this process's cached queue."""
    _queues.update(_cache_key(dataset_id), lambda cached: (cached[0].without(clip_id), cached[1]))


def queue_reopened(dataset_id: int) -> None:
    """After an undo the clip waits again: drop this process's cached queue so the next read rebuilds it."""
    _queues.forget(_cache_key(dataset_id))


@dataclass(frozen=True)
class AutoAcceptReport:
    accepted: list[int]
    left_for_review: int


def auto_accept(session: Session, *, user: User, dataset_id: int, embed: Embed | None = None,
                on_total: Callable[[int], None] | None = None,
                on_clip: Callable[[], None] | None = None) -> AutoAcceptReport:
    """Accept every waiting clip that passes the dataset's thresholds; the rest stay in the queue."""
    require(user, Role.lead, action="auto-accept consensus")
    dataset = clip_queries.get_dataset(session, dataset_id=dataset_id)
    if dataset is None:
        raise LookupError(f"dataset {dataset_id} does not exist")
    model = dataset_emotion_model(session, dataset_id=dataset_id)
    accepted, left = [], 0
    waiting = _waiting(session, dataset=dataset)
    if on_total:
        on_total(len(waiting))
    for item in waiting:
        clip_id = item.clip.id
        # Every waiting clip once, in order: nothing to remember or to work out ahead.
        proposal = _propose(session, clip_id=clip_id, emotion_model=model, embed=embed, ahead=False)
        if proposal.auto_acceptable:
            accept(session, user=user, proposal=proposal, auto=True)
            accepted.append(clip_id)
        else:
            left += 1
        if on_clip:
            on_clip()
    return AutoAcceptReport(accepted, left)
