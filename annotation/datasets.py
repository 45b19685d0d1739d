"""Datasets: create, import and upload (lead), the overview, and browsing clips and their references."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from annotation.ingest.importer import check_import_root, import_parsed, read_source
from annotation.ingest.records import ImportReport
from annotation.ingest.transcripts import TRANSCRIPT_SOURCES, rechoose
from annotation.permissions import require
from core.vocabulary import LABEL_SETS, Role
from db.engine import unit_of_work, with_session
from db.models import Clip, Dataset, Reference, User
from db.queries import audit
from db.queries import clips as clip_queries
from db.queries import model_versions as feature_queries
from db.queries import references as reference_queries


class DatasetError(ValueError):
    pass


# The model's held-out clips: never trained on, the clips every model version is scored on.
HELD_OUT_FRACTION = 0.2
# The split name for them wherever a split is chosen (evaluation, exports), beside a clip's own train/val/test.
HELD_OUT_SPLIT = "held-out"


def is_held_out(clip_name: str, fraction: float = HELD_OUT_FRACTION) -> bool:
    """Deterministic by clip name: the same clip is held out in every snapshot."""
    digest = hashlib.sha256(clip_name.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


@dataclass
class DatasetOverview:
    dataset: Dataset
    counts: dict[str, int]


@with_session
def overview(session: Session) -> list[DatasetOverview]:
    return [DatasetOverview(d, clip_queries.dataset_counts(session, dataset_id=d.id))
            for d in clip_queries.list_datasets(session)]


# Label set name for an open-vocabulary dataset whose only answer is the word set (OV-MER, MER-FG).
WORDS_ONLY = "none"


@unit_of_work
def create_dataset(session: Session, *, actor: User | None, name: str, label_set: str = "mer2023",
                   overlap: int = 3, open_vocabulary: bool = False, language: str = "auto",
                   description: str = "") -> Dataset:
    require(actor, Role.lead, action="creating datasets")
    name = name.strip()
    if not name:
        raise DatasetError("a dataset needs a name")
    if clip_queries.get_dataset_by_name(session, name=name):
        raise DatasetError(f"a dataset named {name!r} exists already")
    if label_set == WORDS_ONLY:
        if not open_vocabulary:
            raise DatasetError("a dataset without a label set needs open-vocabulary emotion words")
        labels: list[str] = []
    elif label_set in LABEL_SETS:
        labels = list(LABEL_SETS[label_set])
    else:
        raise DatasetError(f"unknown label set {label_set!r}")
    dataset = clip_queries.create_dataset(session, name=name, label_set=labels, overlap=overlap,
                                          open_vocabulary=open_vocabulary, language=language, description=description)
    audit.record(session, user=actor, action="create_dataset", entity="dataset", entity_id=dataset.id)
    return dataset


def transcript_source(dataset: Dataset) -> str:
    """The dataset's transcript source (annotation.ingest.transcripts.TRANSCRIPT_SOURCES); "best" by default."""
    return str((dataset.settings or {}).get("transcript_source") or "best")


@unit_of_work
def set_transcript_source(session: Session, *, actor: User | None, dataset_id: int, source: str) -> int:
    """Choose which transcript the dataset's clips keep (lead), and apply it at once to the clips whose
    speech features are extracted; the others follow at their extraction. Returns how many clips changed."""
    require(actor, Role.lead, action="choosing the transcript source")
    if source not in TRANSCRIPT_SOURCES:
        raise DatasetError(f"unknown transcript source {source!r}: one of {', '.join(TRANSCRIPT_SOURCES)}")
    dataset = clip_queries.get_dataset(session, dataset_id=dataset_id)
    if dataset is None:
        raise DatasetError(f"no dataset {dataset_id}")
    clip_queries.update_dataset(session, dataset=dataset, settings={**(dataset.settings or {}),
                                                                    "transcript_source": source})
    language = dataset.language if dataset.language not in (None, "", "auto") else None
    changed = 0
    for clip, speech in feature_queries.speech_features_of_dataset(session, dataset_id=dataset_id):
        kept = (clip.meta or {}).get("given_transcript") or {}
        replaced = clip.transcript_source in ("asr", "on_screen")
        given = str(kept.get("text") or "") if replaced else clip.transcript
        given_words = list(kept.get("words") or []) if replaced else list(clip.transcript_words or [])
        record = rechoose(speech["candidates"], source, given=given, given_words=given_words,
                          language=language or clip.language or speech.get("language"), duration=clip.duration)
        changed += feature_queries.store_transcript(session, clip_id=int(clip.id), speech=record, force=True)
    audit.record(session, user=actor, action="set_transcript_source", entity="dataset", entity_id=dataset_id,
                 detail={"source": source, "clips_changed": changed})
    return changed


@unit_of_work
def import_into(session: Session, *, actor: User | None, dataset_id: int, source: Path) -> ImportReport:
    """Import a server-side folder or manifest into a dataset (media processed later by an ingest job).

    Only from under the import roots (setting `import_roots`; the data directory's `imports/` by default, and
    the app's own uploads): the app often runs as root, and a lead must not read any folder of the server.
    """
    require(actor, Role.lead, action="importing clips")
    dataset = clip_queries.get_dataset(session, dataset_id=dataset_id)
    if dataset is None:
        raise DatasetError(f"no dataset with id {dataset_id}")
    source = Path(source)
    check_import_root(source)
    parsed = read_source(source)
    return import_parsed(session, dataset=dataset, parsed=parsed, user=actor,
                         media_root=source if source.is_dir() else source.parent)


@unit_of_work
def retry_errored_clips(session: Session, *, actor: User | None, dataset_id: int | None) -> int:
    """Give clips whose media failed another chance: error → pending (the next ingest processes them).

    For a file that was fixed at its source, or a failure that was not the file's. Returns how many.
    """
    require(actor, Role.lead, action="retrying errored clips")
    count = clip_queries.reset_errors(session, dataset_id=dataset_id)
    audit.record(session, user=actor, action="retry_errored_clips", entity="dataset", entity_id=dataset_id,
                 detail={"clips": count})
    return count


def save_uploads(*, actor: User | None, dataset_id: int, files: list[tuple[str, bytes]], uploads_dir: Path,
                 max_bytes: int) -> tuple[Path, list[str]]:
    """Write uploaded media (and subtitle/manifest files) to a new folder; refuse what is not media.

    Returns the folder and the refusals (file name and reason).
    """
    from annotation.ingest.media import MEDIA_SUFFIXES
    from annotation.ingest.subtitles import SUBTITLE_SUFFIXES
    from annotation.ingest.uploads import new_upload_folder, write_uploads

    require(actor, Role.lead, action="uploading clips")
    folder = new_upload_folder(uploads_dir / f"dataset-{dataset_id}")
    _, refused = write_uploads(folder, files, allowed_suffixes=MEDIA_SUFFIXES | set(SUBTITLE_SUFFIXES),
                               max_bytes=max_bytes)
    return folder, refused


@with_session
def list_datasets(session: Session) -> list[Dataset]:
    return list(clip_queries.list_datasets(session))


@with_session
def search_clips(session: Session, *, dataset_id: int, status: str | None = None, text: str = "",
                 has_video: bool | None = None, min_annotations: int | None = None,
                 max_annotations: int | None = None, has_consensus: bool | None = None,
                 limit: int = 200, offset: int = 0) -> tuple[list[Clip], int]:
    """One page of a dataset's clips matching the filters, and how many match in all.

    `min_annotations`/`max_annotations` bound the submitted annotations; `has_consensus` asks for clips with
    (True) or without (False) a current consensus.
    """
    rows, total = clip_queries.search_clips(session, dataset_id=dataset_id, status=status, text=text,
                                            has_video=has_video, min_annotations=min_annotations,
                                            max_annotations=max_annotations, has_consensus=has_consensus,
                                            limit=limit, offset=offset)
    return list(rows), total


@with_session
def annotation_summary(session: Session, *, clip_ids: list[int]) -> dict[int, tuple[int, bool]]:
    """(submitted annotations, has a current consensus) for each of a page of clips."""
    return clip_queries.annotation_summary(session, clip_ids=clip_ids)


@with_session
def clip_references(session: Session, *, clip_id: int) -> list[Reference]:
    """Imported systems' labels and reasoning for one clip."""
    return reference_queries.references_for_clip(session, clip_id=clip_id)
