"""Progress figures: per-annotator counts for a lead, the open slots of a dataset, one annotator's own counts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from core.vocabulary import AnnotationStatus, ClipStatus, Coverage
from db.models import Annotation, Assignment, Clip, Dataset, User, utcnow
from db.queries.assignments import ACTIVE, live_condition


def annotator_counts(session: Session, *, user_id: int, dataset_id: int, now: datetime) -> tuple[int, int, int]:
    """(ready clips in the dataset, clips the user finished there, live leases the user holds there)."""
    return (ready_clip_count(session, dataset_id=dataset_id),
            *annotator_own_counts(session, user_id=user_id, dataset_id=dataset_id, now=now))


def annotator_own_counts(session: Session, *, user_id: int, dataset_id: int, now: datetime) -> tuple[int, int]:
    """(clips the user finished in the dataset, live leases the user holds there): the user's rows only."""
    finished = int(session.exec(
        select(sa.func.count()).select_from(Annotation).join(Clip, Clip.id == Annotation.clip_id).where(
            Annotation.user_id == user_id, Clip.dataset_id == dataset_id,
            Annotation.status != AnnotationStatus.draft.value)).one())
    leased = int(session.exec(
        select(sa.func.count()).select_from(Assignment).join(Clip, Clip.id == Assignment.clip_id).where(
            Assignment.user_id == user_id, Clip.dataset_id == dataset_id, Assignment.state == ACTIVE,
            sa.or_(Assignment.expires_at.is_(None), Assignment.expires_at > now))).one())
    return finished, leased


def ready_clip_count(session: Session, *, dataset_id: int) -> int:
    return int(session.exec(select(sa.func.count()).select_from(Clip).where(
        Clip.dataset_id == dataset_id, Clip.status == ClipStatus.ready.value)).one())


def annotator_progress(session: Session, *, dataset_id: int) -> list[dict[str, Any]]:
    """Per annotator: submitted, skipped, drafts, live leases and median seconds per submitted clip."""
    now = utcnow()
    rows: dict[int, dict[str, Any]] = {}
    users = session.exec(select(User).order_by(User.username)).all()
    names = {u.id: u.username for u in users}
    status_counts = session.exec(
        select(Annotation.user_id, Annotation.status, sa.func.count())
        .join(Clip, Clip.id == Annotation.clip_id)
        .where(Clip.dataset_id == dataset_id)
        .group_by(Annotation.user_id, Annotation.status)
    ).all()
    for user_id, status, count in status_counts:
        row = rows.setdefault(user_id, _empty_progress(names.get(user_id, str(user_id))))
        row[status] = int(count)
    leases = session.exec(
        select(Assignment.user_id, sa.func.count())
        .join(Clip, Clip.id == Assignment.clip_id)
        .where(Clip.dataset_id == dataset_id, Assignment.state == ACTIVE,
               sa.or_(Assignment.expires_at.is_(None), Assignment.expires_at > now))
        .group_by(Assignment.user_id)
    ).all()
    for user_id, count in leases:
        rows.setdefault(user_id, _empty_progress(names.get(user_id, str(user_id))))["leased"] = int(count)
    for user_id, row in rows.items():
        seconds = session.exec(
            select(Annotation.seconds_spent)
            .join(Clip, Clip.id == Annotation.clip_id)
            .where(Clip.dataset_id == dataset_id, Annotation.user_id == user_id,
                   Annotation.status == AnnotationStatus.submitted.value)
        ).all()
        row["median_seconds"] = _median(list(seconds))
    return sorted(rows.values(), key=lambda r: r["annotator"])


def _empty_progress(name: str) -> dict[str, Any]:
    return {"annotator": name, "submitted": 0, "skipped": 0, "draft": 0, "leased": 0, "median_seconds": None}


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def open_slots(session: Session, *, dataset: Dataset) -> int:
    """Slots still to fill in the dataset (ready clips × overlap − taken).

    Capacity is counted as ready clips × overlap plus the few overridden clips'
    difference, so both parts read indexes only.
    """
    now = utcnow()
    ready = Clip.dataset_id == dataset.id, Clip.status == ClipStatus.ready.value
    ready_count = session.exec(select(sa.func.count()).select_from(Clip).where(*ready)).one()
    overridden = session.exec(
        select(sa.func.coalesce(sa.func.sum(Clip.overlap_override - dataset.overlap), 0))
        .where(*ready, Clip.overlap_override.is_not(None))
    ).one()
    taken = session.exec(
        select(sa.func.count()).select_from(Assignment).join(Clip, Clip.id == Assignment.clip_id)
        .where(*ready, live_condition(now))
    ).one()
    return max(0, int(ready_count) * dataset.overlap + int(overridden) - int(taken))


# --- per-clip coverage: submitted of wanted, skips, adjudicated -------------------------------------


def _coverage_rows(dataset: Dataset, *, grouped: bool = True) -> Any:
    """A subquery with one row per ready clip of the dataset: submitted, skipped, wanted, adjudicated, coverage.

    `grouped` counts with one pass over the dataset's annotations (every clip is needed: the summary);
    otherwise each clip probes the (clip_id, status) indexes, so a page stops at its limit.
    """
    from db.queries.clips import annotation_count, annotation_counts, consensus_clips, has_current_consensus

    wanted = sa.func.coalesce(Clip.overlap_override, dataset.overlap)
    if grouped:
        counts, agreed = annotation_counts(dataset.id), consensus_clips(dataset.id)
        columns = (sa.func.coalesce(counts.c.submitted, 0), sa.func.coalesce(counts.c.skipped, 0),
                   sa.case((agreed.c.clip_id.is_not(None), 1), else_=0))
    else:
        columns = (annotation_count(AnnotationStatus.submitted.value), annotation_count(AnnotationStatus.skipped.value),
                   sa.case((has_current_consensus(), 1), else_=0))
    inner = select(Clip.id.label("clip_id"), Clip.name.label("name"), columns[0].label("submitted"),
                   columns[1].label("skipped"), wanted.label("wanted"), columns[2].label("adjudicated"))
    if grouped:
        inner = inner.outerjoin(counts, counts.c.clip_id == Clip.id).outerjoin(agreed, agreed.c.clip_id == Clip.id)
    inner = inner.where(Clip.dataset_id == dataset.id, Clip.status == ClipStatus.ready.value).subquery()
    coverage = sa.case(
        (inner.c.adjudicated == 1, Coverage.adjudicated.value),
        (inner.c.submitted == 0, Coverage.none.value),
        (inner.c.submitted >= inner.c.wanted, Coverage.complete.value),
        else_=Coverage.partial.value,
    ).label("coverage")
    return select(inner, coverage).subquery()


def coverage_summary(session: Session, *, dataset: Dataset) -> list[dict[str, Any]]:
    """Ready clips counted by coverage, submitted and wanted annotations, with how many of them have a skip."""
    rows = _coverage_rows(dataset, grouped=True)
    query = (select(rows.c.coverage, rows.c.submitted, rows.c.wanted, sa.func.count(),
                    sa.func.sum(sa.case((rows.c.skipped > 0, 1), else_=0)))
             .group_by(rows.c.coverage, rows.c.submitted, rows.c.wanted)
             .order_by(rows.c.submitted, rows.c.wanted, rows.c.coverage))
    return [{"coverage": coverage, "submitted": int(submitted), "wanted": int(wanted), "clips": int(count),
             "with_skips": int(skips or 0)} for coverage, submitted, wanted, count, skips in session.exec(query).all()]


def clip_coverage(session: Session, *, dataset: Dataset, state: str | None = None, limit: int = 50,
                  offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """One page of the ready clips in id order, filtered by coverage (or `skipped`), and how many match.

    The filter is written on the per-clip probes themselves (not on a derived coverage column, which
    PostgreSQL would expand into a probe per mention); the page's coverage is worked out in Python.
    """
    from db.queries.clips import annotation_count, has_current_consensus

    submitted, skipped = annotation_count(AnnotationStatus.submitted.value), \
        annotation_count(AnnotationStatus.skipped.value)
    agreed = has_current_consensus()
    wanted = sa.func.coalesce(Clip.overlap_override, dataset.overlap)
    conditions = [Clip.dataset_id == dataset.id, Clip.status == ClipStatus.ready.value]
    if state == Coverage.skipped.value:
        conditions.append(skipped > 0)
    elif state == Coverage.adjudicated.value:
        conditions.append(agreed)
    elif state == Coverage.none.value:
        conditions += [~agreed, submitted == 0]
    elif state == Coverage.complete.value:
        conditions += [~agreed, submitted >= wanted]
    elif state == Coverage.partial.value:
        conditions += [~agreed, sa.between(submitted, 1, wanted - 1)]
    total = int(session.exec(select(sa.func.count()).select_from(Clip).where(*conditions)).one())
    page = session.execute(
        select(Clip.id, Clip.name, submitted.label("submitted"), skipped.label("skipped"), wanted.label("wanted"),
               sa.case((agreed, 1), else_=0).label("adjudicated"))
        .where(*conditions).order_by(Clip.id).offset(offset).limit(limit)).all()
    out = []
    for clip_id, name, done, skips, want, adjudicated in page:
        coverage = (Coverage.adjudicated if adjudicated else Coverage.none if not done
                    else Coverage.complete if done >= want else Coverage.partial).value
        out.append({"clip_id": int(clip_id), "name": name, "submitted": int(done), "skipped": int(skips),
                    "wanted": int(want), "adjudicated": bool(adjudicated), "coverage": coverage})
    return out, total
