"""Per-clip coverage for a lead: how many of its wanted annotations each clip has, skips, adjudication."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from annotation.permissions import require
from core.vocabulary import Coverage, Role
from db.engine import with_session
from db.queries import clips as clip_queries
from db.queries import progress as progress_queries


def _dataset(session: Session, dataset_id: int):  # noqa: ANN202
    dataset = clip_queries.get_dataset(session, dataset_id=dataset_id)
    if dataset is None:
        raise ValueError(f"no dataset {dataset_id}")
    return dataset


@with_session
def coverage_summary(session: Session, *, user: Any, dataset_id: int) -> list[dict[str, Any]]:
    """Ready clips counted by coverage and submitted of wanted annotations (with how many have a skip)."""
    require(user, Role.lead, action="see clip coverage")
    return progress_queries.coverage_summary(session, dataset=_dataset(session, dataset_id))


@with_session
def clip_coverage(session: Session, *, user: Any, dataset_id: int, state: str | None = None, limit: int = 50,
                  offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """One page of ready clips with their coverage, filtered by a `core.vocabulary.Coverage` value."""
    require(user, Role.lead, action="see clip coverage")
    if state is not None and state not in {c.value for c in Coverage}:
        raise ValueError(f"unknown coverage {state!r}")
    return progress_queries.clip_coverage(session, dataset=_dataset(session, dataset_id), state=state,
                                          limit=limit, offset=offset)
