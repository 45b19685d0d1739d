"""Model versions, predictions and cached clip features."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from db.models import (
    Annotation,
    Clip,
    ClipFeature,
    Consensus,
    ModelVersion,
    Prediction,
    User,
    utcnow,
)
from db.queries import predictions
from db.queries.chunking import clips_by_ids, in_chunks

# --- versions -------------------------------------------------------------------


def list_versions(session: Session, *, dataset_id: int | None = None) -> Sequence[ModelVersion]:
    """Versions for a dataset (and the dataset-less ones), oldest first."""
    query = select(ModelVersion).order_by(ModelVersion.id)
    if dataset_id is not None:
        query = query.where((ModelVersion.dataset_id == dataset_id) | col(ModelVersion.dataset_id).is_(None))
    return session.exec(query).all()


def get_version(session: Session, *, version_id: int) -> ModelVersion | None:
    return session.get(ModelVersion, version_id)


def active_version(session: Session, *, dataset_id: int | None) -> ModelVersion | None:
    """The promoted version for the dataset, else a promoted dataset-less one (see db.queries.predictions)."""
    version_id = predictions.active_version_id(session, dataset_id=dataset_id)
    return session.get(ModelVersion, version_id) if version_id is not None else None


def create_version(session: Session, *, backend: str, name: str, dataset_id: int | None = None,
                   parent_id: int | None = None, snapshot: dict[str, Any] | None = None,
                   artifacts_path: str | None = None, metrics: dict[str, Any] | None = None,
                   config: dict[str, Any] | None = None, is_active: bool = False) -> ModelVersion:
    version = ModelVersion(backend=backend, name=name, dataset_id=dataset_id, parent_id=parent_id,
                           snapshot=snapshot or {}, artifacts_path=artifacts_path, metrics=metrics or {},
                           config=config or {}, is_active=is_active)
    session.add(version)
    session.flush()
    if is_active:
        predictions.forget_active_version(session)
    return version


def untrained_version(session: Session, *, backend: str, dataset_id: int) -> ModelVersion:
    """The dataset's untrained starting version of a backend, created (and made active if none is) on first use."""
    name = f"{backend}-untrained"
    found = session.exec(select(ModelVersion).where(ModelVersion.dataset_id == dataset_id,
                                                    ModelVersion.name == name)).first()
    if found:
        return found
    first = active_version(session, dataset_id=dataset_id) is None
    return create_version(session, backend=backend, name=name, dataset_id=dataset_id, is_active=first,
                          config={"trained": False})


def set_metrics(session: Session, *, version: ModelVersion, metrics: dict[str, Any]) -> ModelVersion:
    version.metrics = {**version.metrics, **metrics}
    session.add(version)
    return version


def activate(session: Session, *, version: ModelVersion, user: User | None) -> ModelVersion:
    """Make `version` the one active for its dataset; the previous one stays, inactive."""
    others = session.exec(select(ModelVersion).where(ModelVersion.is_active == True,  # noqa: E712
                                                     ModelVersion.dataset_id == version.dataset_id,
                                                     ModelVersion.id != version.id)).all()
    for other in others:
        other.is_active = False
        session.add(other)
    version.is_active = True
    version.promoted_by_id = user.id if user else None
    version.promoted_at = utcnow()
    session.add(version)
    predictions.forget_active_version(session)
    return version


# --- clips and features for a model ----------------------------------------------


def clips_of_dataset(session: Session, *, dataset_id: int, clip_ids: list[int] | None = None,
                     unlabelled_only: bool = False) -> Sequence[Clip]:
    """Clips to predict, in id order; `unlabelled_only` leaves out clips with current consensus."""
    query = select(Clip).where(Clip.dataset_id == dataset_id)
    if unlabelled_only:
        labelled = select(Consensus.clip_id).where(Consensus.is_current == True)  # noqa: E712
        query = query.where(col(Clip.id).not_in(labelled))
    if not clip_ids:
        return session.exec(query.order_by(Clip.id)).all()
    return clips_by_ids(session, query, clip_ids)


def current_consensus(session: Session, *, dataset_id: int) -> list[tuple[Consensus, Clip]]:
    rows = session.exec(select(Consensus, Clip).join(Clip, Clip.id == Consensus.clip_id)
                        .where(Clip.dataset_id == dataset_id, Consensus.is_current == True)  # noqa: E712
                        .order_by(Clip.id)).all()
    return [(c, clip) for c, clip in rows]


def annotations_on_version(session: Session, *, version_id: int) -> list[tuple[Annotation, Prediction]]:
    """Submitted annotations that started from this version's predictions."""
    rows = session.exec(select(Annotation, Prediction).join(Prediction, Prediction.id == Annotation.prediction_id)
                        .where(Prediction.model_version_id == version_id, Annotation.status == "submitted")).all()
    return [(a, p) for a, p in rows]


# --- features --------------------------------------------------------------------


def cached_features(session: Session, *, clip_ids: list[int], versions: dict[str, str]) -> dict[int, dict[str, dict[str, Any]]]:
    """{clip_id: {extractor: data}} for the given extractor versions (errors left out)."""
    out: dict[int, dict[str, dict[str, Any]]] = {cid: {} for cid in clip_ids}
    if not clip_ids:
        return out
    for chunk in in_chunks(clip_ids):
        rows = session.exec(select(ClipFeature).where(col(ClipFeature.clip_id).in_(chunk),
                                                      col(ClipFeature.extractor).in_(list(versions)))).all()
        for row in rows:
            if row.error is None and versions.get(row.extractor) == row.extractor_version:
                out[row.clip_id][row.extractor] = row.data
    return out


TIMING_RANK = {"asr": 3, "aligned": 2, "estimated": 1}  # as annotation.ingest.transcripts (db sits below it)


def _stored_words(words: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keep = ("word", "start", "end", "timing", "at")
    return [{k: w[k] for k in keep if k in w} for w in words if {"word", "start", "end"} <= set(w)]


def store_transcript(session: Session, *, clip_id: int, speech: dict[str, Any] | None, force: bool = False) -> bool:
    """Keep on the clip the transcript feature extraction chose, with its word times, so annotators read it
    and can click its words.

    A clip's given text stays unless the dataset chose another source (it is kept in meta then); word
    times only replace worse ones (asr > aligned > estimated), unless `force` (a lead changed the dataset's
    transcript source). Returns whether the clip changed."""
    if not speech or speech.get("source") in (None, "none") or not str(speech.get("text", "")).strip():
        return False
    clip = session.get(Clip, clip_id)
    if clip is None:
        return False
    text, source = str(speech["text"]).strip(), str(speech["source"])
    words = _stored_words(speech.get("words") or [])
    timing = speech.get("timing")
    meta = dict(clip.meta or {})
    kept = meta.get("given_transcript") or {}
    if source == "given" and clip.transcript_source in ("asr", "on_screen") and str(kept.get("text", "")).strip() == text:
        # Back to the given transcript the dataset once replaced.
        clip.transcript, clip.transcript_source = str(kept["text"]), kept.get("source")
        clip.transcript_words = words or list(kept.get("words") or [])
        meta.pop("given_transcript", None)
    elif source == "given":
        if text != clip.transcript.strip():
            return False  # the clip's transcript was edited since: its words are not these
        old = TIMING_RANK.get(str(meta.get("transcript_timing") or _weakest(clip.transcript_words)), 0)
        if not words or (TIMING_RANK.get(str(timing), 0) <= old and not force):
            return False
        clip.transcript_words = words
    else:
        if clip.transcript.strip() == text and clip.transcript_source == source and \
                TIMING_RANK.get(str(timing), 0) <= TIMING_RANK.get(str(meta.get("transcript_timing")), 0):
            return False
        if clip.transcript.strip() and clip.transcript_source not in ("asr", "on_screen"):
            meta.setdefault("given_transcript", {"text": clip.transcript, "source": clip.transcript_source,
                                                 "words": clip.transcript_words})
        clip.transcript, clip.transcript_words = text, words
        clip.transcript_source = source
        clip.language = clip.language or speech.get("language")
    meta["transcript_timing"] = timing
    if speech.get("choice"):
        meta["transcript_choice"] = speech["choice"]
    clip.meta = meta
    session.add(clip)
    return True


def _weakest(words: list[dict[str, Any]]) -> str | None:
    kinds = [str(w.get("timing") or "estimated") for w in words or []]
    return min(kinds, key=lambda k: TIMING_RANK.get(k, 0)) if kinds else None


def speech_features_of_dataset(session: Session, *, dataset_id: int) -> list[tuple[Clip, dict[str, Any]]]:
    """Each clip of the dataset with its newest speech features that kept their transcript candidates."""
    rows = session.exec(select(Clip, ClipFeature).join(ClipFeature, ClipFeature.clip_id == Clip.id)
                        .where(Clip.dataset_id == dataset_id, ClipFeature.extractor == "speech")
                        .order_by(Clip.id, col(ClipFeature.id).desc())).all()
    newest: dict[int, tuple[Clip, dict[str, Any]]] = {}
    for clip, feature in rows:
        if clip.id not in newest and "candidates" in (feature.data or {}):
            newest[clip.id] = (clip, feature.data)
    return list(newest.values())


def store_asr_transcript(session: Session, *, clip_id: int, speech: dict[str, Any] | None) -> bool:
    """Older name of `store_transcript`."""
    return store_transcript(session, clip_id=clip_id, speech=speech)


def save_features(session: Session, *, clip_id: int, features: dict[str, dict[str, Any]]) -> int:
    """Store each extractor's output (keyed by its `version`); returns how many rows were written."""
    written = 0
    for extractor, data in features.items():
        version = str(data.get("version", "0"))
        exists = session.exec(select(ClipFeature).where(ClipFeature.clip_id == clip_id,
                                                        ClipFeature.extractor == extractor,
                                                        ClipFeature.extractor_version == version)).first()
        if exists:
            continue
        session.add(ClipFeature(clip_id=clip_id, extractor=extractor, extractor_version=version, data=data))
        written += 1
    session.flush()
    return written


def feature_counts(session: Session, *, dataset_id: int) -> dict[str, int]:
    """How many clips of the dataset have each extractor cached."""
    rows = session.exec(select(ClipFeature.extractor, ClipFeature.clip_id).join(Clip, Clip.id == ClipFeature.clip_id)
                        .where(Clip.dataset_id == dataset_id, col(ClipFeature.error).is_(None))).all()
    counts: dict[str, set[int]] = {}
    for extractor, clip_id in rows:
        counts.setdefault(extractor, set()).add(clip_id)
    return {k: len(v) for k, v in sorted(counts.items())}


def features_by_speaker(session: Session, *, dataset_id: int, extractor: str,
                        version: str) -> dict[str, list[dict[str, Any]]]:
    """{speaker: [cached feature data of each of their clips]} for clips that name a speaker."""
    rows = session.exec(select(Clip.speaker, ClipFeature.data).join(ClipFeature, ClipFeature.clip_id == Clip.id)
                        .where(Clip.dataset_id == dataset_id, col(Clip.speaker).is_not(None),
                               ClipFeature.extractor == extractor, ClipFeature.extractor_version == version,
                               col(ClipFeature.error).is_(None))).all()
    out: dict[str, list[dict[str, Any]]] = {}
    for speaker, data in rows:
        out.setdefault(speaker, []).append(data)
    return out


def latest_features(session: Session, *, clip_ids: list[int]) -> dict[int, dict[str, dict[str, Any]]]:
    """{clip_id: {extractor: data}} from the newest error-free row of each extractor, whatever its version."""
    out: dict[int, dict[str, dict[str, Any]]] = {cid: {} for cid in clip_ids}
    for chunk in in_chunks(clip_ids):
        rows = session.exec(select(ClipFeature).where(col(ClipFeature.clip_id).in_(chunk),
                                                      col(ClipFeature.error).is_(None))
                            .order_by(ClipFeature.clip_id, ClipFeature.id)).all()
        for row in rows:
            out[row.clip_id][row.extractor] = row.data  # later rows (newer) win
    return out


def versions_trained_on(session: Session, *, consensus_id: int) -> list[ModelVersion]:
    """Model versions whose frozen training data (snapshot consensus ids) holds this consensus row."""
    return [v for v in session.exec(select(ModelVersion).order_by(ModelVersion.id))
            if consensus_id in ((v.snapshot or {}).get("consensus_ids") or [])]
