"""Feature extraction and prediction over a dataset's clips, with per-clip failures recorded.

Features are cached in ClipFeature per extractor version, so a second run (or
training) reads them instead of recomputing. A clip that fails is reported to
the progress sink and the run goes on.
"""

from __future__ import annotations

from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from annotation.datasets import is_held_out
from core.settings import get_settings
from db.engine import get_engine
from db.models import Clip, Dataset, ModelVersion
from db.queries import clips as clip_queries
from db.queries import model_versions as q
from db.queries import predictions as prediction_queries
from model.base import ClipInput, ModelBackend
from model.notes import stored_spans
from model.progress import Progress, QuietProgress
from model.registry import make_backend

CHUNK = 8  # clips per commit and per batched prediction


def dataset_and_version(session: Session, *, dataset_id: int, version_id: int | None) -> tuple[Dataset, ModelVersion]:
    """The dataset and the version to predict it with: the one asked for, else the active version, else the
    backend's untrained version (made on first use, hence the commit)."""
    dataset = clip_queries.get_dataset(session, dataset_id=dataset_id)
    if dataset is None:
        raise ValueError(f"no dataset {dataset_id}")
    if version_id is not None:
        version = q.get_version(session, version_id=version_id)
        if version is None:
            raise ValueError(f"no model version {version_id}")
    else:
        version = q.active_version(session, dataset_id=dataset_id) or \
            q.untrained_version(session, backend=get_settings().model_backend, dataset_id=dataset_id)
    session.commit()
    return dataset, version


def speaker_baselines(session: Session, *, dataset_id: int, versions: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each named speaker's usual voice, from the cached voice features of their clips."""
    from model.features.voice import speaker_baseline

    if "voice" not in versions:
        return {}
    voices = q.features_by_speaker(session, dataset_id=dataset_id, extractor="voice", version=versions["voice"])
    return {speaker: baseline for speaker, rows in voices.items() if (baseline := speaker_baseline(rows))}


def _media(path: str | None, data_dir: Path) -> Path | None:
    return (data_dir / path) if path else None


def clip_input(clip: Clip, *, dataset: Dataset | None, data_dir: Path,
               features: dict[str, dict[str, Any]] | None = None) -> ClipInput:
    """A backend's view of a stored clip: absolute media paths, transcript, language, cached features."""
    language = clip.language
    # A dataset's language constrains speech recognition: a Mandarin dataset's clip is never heard as Korean.
    if dataset is not None and dataset.language not in (None, "", "auto"):
        language = dataset.language
    mode = str(((dataset.settings or {}) if dataset is not None else {}).get("transcript_source") or "best")
    return ClipInput(
        name=clip.name, clip_id=clip.id, video_path=_media(clip.video_path, data_dir),
        audio_path=_media(clip.audio_path, data_dir), frames_dir=_media(clip.frames_dir, data_dir),
        duration=clip.duration, transcript=clip.transcript or "", transcript_words=clip.transcript_words or [],
        language=language, frame_times=list((clip.meta or {}).get("frame_times") or []), features=features or {},
        transcript_mode=mode)


def backend_for(version: ModelVersion, *, label_set: list[str] | None = None) -> ModelBackend:
    settings = get_settings()
    artifacts = settings.data_dir / version.artifacts_path if version.artifacts_path else None
    return make_backend(version.backend, settings=settings, artifacts_path=artifacts,
                        model_version=version.name, label_set=label_set)


def _check_media(clip: Clip, data_dir: Path) -> None:
    for path in (clip.video_path, clip.audio_path):
        if path and not (data_dir / path).is_file():
            raise FileNotFoundError(f"media file missing: {path}")


def extract_dataset_features(*, dataset_id: int, clip_ids: list[int] | None = None,
                             backend: ModelBackend | None = None, progress: Progress | None = None) -> dict[str, int]:
    """Cache every extractor's output for the dataset's clips; returns counts."""
    progress = progress or QuietProgress()
    settings = get_settings()
    engine = get_engine()
    with Session(engine, expire_on_commit=False) as session:
        dataset = clip_queries.get_dataset(session, dataset_id=dataset_id)
        if dataset is None:
            raise ValueError(f"no dataset {dataset_id}")
        clips = list(q.clips_of_dataset(session, dataset_id=dataset_id, clip_ids=clip_ids))
    own = backend is None
    backend = backend or make_backend(settings=settings, label_set=dataset.label_set)
    versions = backend.feature_versions()
    progress.set_total(len(clips))
    counts = {"extracted": 0, "cached": 0, "failed": 0}
    try:
        for first in range(0, len(clips), CHUNK):
            chunk = clips[first:first + CHUNK]
            with Session(engine, expire_on_commit=False) as session:
                cached = q.cached_features(session, clip_ids=[c.id for c in chunk], versions=versions)
            todo: list[tuple[Clip, ClipInput]] = []
            for clip in chunk:
                if set(cached[clip.id]) >= set(versions):
                    counts["cached"] += 1
                    progress.advance(message=f"{clip.name}: cached")
                    continue
                try:
                    _check_media(clip, settings.data_dir)
                    todo.append((clip, clip_input(clip, dataset=dataset, data_dir=settings.data_dir,
                                                  features=cached[clip.id])))
                except Exception as error:  # noqa: BLE001 — one bad clip must not stop the run
                    counts["failed"] += 1
                    progress.fail_item(clip.name, f"{type(error).__name__}: {error}")
            for (clip, _), features in zip(todo, backend.extract_many([item for _, item in todo]), strict=False):
                if isinstance(features, Exception):
                    counts["failed"] += 1
                    progress.fail_item(clip.name, f"{type(features).__name__}: {features}")
                    continue
                with Session(engine, expire_on_commit=False) as session:
                    q.save_features(session, clip_id=clip.id, features=features)
                    q.store_transcript(session, clip_id=clip.id, speech=features.get("speech"))
                    session.commit()
                counts["extracted"] += 1
                progress.advance(message=f"{clip.name}: features")
    finally:
        if own:
            backend.close()
    return counts


def predict_dataset(*, dataset_id: int, version_id: int | None = None, clip_ids: list[int] | None = None,
                    unlabelled_only: bool = False, held_out: bool = False, resume_since: datetime | None = None,
                    progress: Progress | None = None) -> dict[str, Any]:
    """Predict clips with a version (default: the active one, else the untrained baseline) and store the results.

    `unlabelled_only` leaves out clips with consensus; with `held_out` the held-out clips with consensus
    (annotation.datasets.is_held_out) are predicted too, so every version can be scored on them.

    Each prediction is stored as soon as the backend yields it. With `resume_since` (a job passes its
    creation time), clips this version predicted since then are skipped, so a killed run resumes
    without predicting, or paying for, a finished clip again.
    """
    progress = progress or QuietProgress()
    settings = get_settings()
    engine = get_engine()
    with Session(engine, expire_on_commit=False) as session:
        dataset, version = dataset_and_version(session, dataset_id=dataset_id, version_id=version_id)
        clips = list(q.clips_of_dataset(session, dataset_id=dataset_id, clip_ids=clip_ids,
                                        unlabelled_only=unlabelled_only))
        if unlabelled_only and held_out:
            wanted = set(clip_ids) if clip_ids else None
            clips += [clip for _, clip in q.current_consensus(session, dataset_id=dataset_id)
                      if is_held_out(clip.name) and (wanted is None or clip.id in wanted)]
            clips.sort(key=lambda clip: clip.id)
        finished = prediction_queries.predicted_clip_ids(session, version_id=version.id, since=resume_since) \
            if resume_since is not None else set()
    skipped = sum(clip.id in finished for clip in clips)
    clips = [clip for clip in clips if clip.id not in finished]
    backend = backend_for(version, label_set=dataset.label_set)
    versions = backend.feature_versions()
    progress.set_total(len(clips))
    progress.log(f"predicting {len(clips)} clips with {version.name}"
                 + (f" ({skipped} finished earlier in this run skipped)" if skipped else ""))
    done = failed = 0
    # Backends that wait on a server take bigger chunks, so every request slot stays busy.
    chunk_size = getattr(backend, "chunk_size", None) or CHUNK
    try:
        for start in range(0, len(clips), chunk_size):
            chunk = clips[start:start + chunk_size]
            with Session(engine, expire_on_commit=False) as session:
                cached = q.cached_features(session, clip_ids=[c.id for c in chunk], versions=versions)
            ready: list[tuple[Clip, ClipInput, dict[str, dict[str, Any]]]] = []
            items: list[tuple[Clip, ClipInput]] = []
            for clip in chunk:
                try:
                    _check_media(clip, settings.data_dir)
                    items.append((clip, clip_input(clip, dataset=dataset, data_dir=settings.data_dir,
                                                   features=cached[clip.id])))
                except Exception as error:  # noqa: BLE001
                    failed += 1
                    progress.fail_item(clip.name, f"{type(error).__name__}: {error}")
            extracted = backend.extract_many([item for _, item in items])
            for (clip, item), features in zip(items, extracted, strict=False):
                if isinstance(features, Exception):
                    failed += 1
                    progress.fail_item(clip.name, f"{type(features).__name__}: {features}")
                else:
                    ready.append((clip, item, features))
            if not ready:
                continue
            with Session(engine, expire_on_commit=False) as session:
                for clip, _, features in ready:  # stored first, so this chunk counts toward its speakers' baselines
                    if set(features) - set(cached[clip.id]):
                        q.save_features(session, clip_id=clip.id, features=features)
                    q.store_transcript(session, clip_id=clip.id, speech=features.get("speech"))
                session.commit()
                baselines = speaker_baselines(session, dataset_id=dataset_id, versions=versions)
            for clip, item, features in ready:
                item.features = features  # predict reuses them: nothing is extracted twice
                item.speaker_baseline = baselines.get(clip.speaker) if clip.speaker else None
            # Stored one by one as they finish: a run killed mid-chunk keeps every finished clip. `closing`
            # stops the backend's work at once when this loop ends early (a cancelled job).
            with closing(backend.predict_as_completed([item for _, item, _ in ready])) as finished_clips:
                for index, prediction in finished_clips:
                    clip = ready[index][0]
                    if isinstance(prediction, Exception):
                        failed += 1
                        progress.fail_item(clip.name, f"{type(prediction).__name__}: {prediction}")
                        continue
                    with Session(engine, expire_on_commit=False) as session:
                        prediction_queries.save_prediction(session, clip_id=clip.id, version_id=version.id,
                                                           clues={a.value: t for a, t in prediction.clues.items()},
                                                           emotion=prediction.emotion, distribution=prediction.distribution,
                                                           uncertainty=prediction.uncertainty, spans=stored_spans(prediction),
                                                           emotion_words=prediction.emotion_words)
                        session.commit()
                    done += 1
                    progress.advance(1, message=f"{done} predicted")
    finally:
        summary = backend.run_summary()
        backend.close()
    progress.log(f"predicted {done}, failed {failed}" + (f"; {summary}" if summary else ""))
    return {"model_version_id": version.id, "model_version": version.name, "predicted": done, "failed": failed,
            "skipped": skipped, **summary}


def missing_predictions(*, version_id: int, clip_ids: list[int]) -> list[int]:
    """Of `clip_ids`, those the version has no prediction for, in id order."""
    with Session(get_engine(), expire_on_commit=False) as session:
        have = prediction_queries.predicted_clip_ids(session, version_id=version_id)
    return sorted(set(clip_ids) - have)
