"""Reference rows: reasoning and labels from named outside sources, one per (clip, source)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import Session, select

from db.models import Clip, Reference, utcnow


class ReferenceRecord(Protocol):
    """What an importer hands over per reference (annotation.ingest.records.ReferenceRecord has this shape)."""

    clip_name: str
    source: str
    emotion: str | None
    emotion_words: list[str]
    clues: dict[str, str]
    reasoning: str
    language: str | None
    translations: dict[str, Any]
    spans: list[dict[str, Any]]
    meta: dict[str, Any]


_CHUNK = 900  # below SQLite's bound-parameter limit


def _chunks(values: Sequence, size: int = _CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def clip_ids_by_name(session: Session, *, dataset_id: int, names: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(names))
    found: dict[str, int] = {}
    for chunk in _chunks(wanted):
        rows = session.exec(select(Clip.name, Clip.id).where(Clip.dataset_id == dataset_id, Clip.name.in_(chunk)))
        found.update({name: clip_id for name, clip_id in rows})
    return found


def store_references(session: Session, *, dataset_id: int,
                     references: Sequence[ReferenceRecord]) -> tuple[int, int]:
    """Insert references whose (clip, source) is new; returns (created, unchanged).

    An existing (clip, source) is left as it is, so importing the same file
    twice writes nothing. References naming a clip that is not in the dataset
    are skipped: callers report them (see `missing_clips`).
    """
    ids = clip_ids_by_name(session, dataset_id=dataset_id, names=(r.clip_name for r in references))
    keyed = [(ids[r.clip_name], r) for r in references if r.clip_name in ids]
    existing: set[tuple[int, str]] = set()
    clip_ids = sorted({clip_id for clip_id, _ in keyed})
    for chunk in _chunks(clip_ids):
        existing.update(session.exec(select(Reference.clip_id, Reference.source).where(Reference.clip_id.in_(chunk))))
    now = utcnow()
    new_rows, seen = [], set(existing)
    for clip_id, record in keyed:
        key = (clip_id, record.source)
        if key in seen:
            continue
        seen.add(key)
        new_rows.append({
            "clip_id": clip_id, "source": record.source, "emotion": record.emotion,
            "emotion_words": list(record.emotion_words), "clues": record.clues,
            "reasoning": record.reasoning, "language": record.language, "translations": record.translations,
            "spans": record.spans, "meta": record.meta, "created_at": now,
        })
    for chunk in _chunks(new_rows, 2000):
        session.execute(sa.insert(Reference), list(chunk))
    return len(new_rows), len(keyed) - len(new_rows)


def missing_clips(session: Session, *, dataset_id: int, references: Sequence[ReferenceRecord]) -> list[str]:
    """Clip names the references point at that the dataset lacks."""
    ids = clip_ids_by_name(session, dataset_id=dataset_id, names=(r.clip_name for r in references))
    return sorted({r.clip_name for r in references} - set(ids))


def list_sources(session: Session, *, dataset_id: int) -> list[tuple[str, int]]:
    """(source, number of references) for a dataset, by source name."""
    rows = session.exec(
        select(Reference.source, sa.func.count(Reference.id))
        .join(Clip, Clip.id == Reference.clip_id)
        .where(Clip.dataset_id == dataset_id)
        .group_by(Reference.source)
        .order_by(Reference.source)
    )
    return [(source, int(count)) for source, count in rows]


def references_for_source(session: Session, *, dataset_id: int, source: str) -> list[tuple[Clip, Reference]]:
    """Every (clip, reference) of one source in a dataset, by clip name.

    A source ending in ':*' selects every source with that prefix (all
    annotators of a raw-label import).
    """
    condition = (Reference.source.startswith(source[:-1]) if source.endswith(":*") else Reference.source == source)
    rows = session.exec(
        select(Clip, Reference).join(Reference, Reference.clip_id == Clip.id)
        .where(Clip.dataset_id == dataset_id, condition)
        .order_by(Clip.name, Reference.source)
    )
    return list(rows)


def references_for_clip(session: Session, *, clip_id: int) -> list[Reference]:
    """Every outside source's labels and reasoning for one clip, by source name."""
    return list(session.exec(select(Reference).where(Reference.clip_id == clip_id).order_by(Reference.source)))
