"""Blind evaluation studies: the study, its items (one per clip and system) and raters' ratings."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from db.models import PreferenceAnswer, Study, StudyItem, StudyRating


def add_study(session: Session, *, study: Study, items: Sequence[StudyItem]) -> Study:
    session.add(study)
    session.flush()
    for item in items:
        item.study_id = study.id  # type: ignore[assignment]
    session.add_all(items)
    session.flush()
    return study


def get_study(session: Session, *, study_id: int) -> Study | None:
    return session.get(Study, study_id)


def list_studies(session: Session, *, status: str | None = None) -> Sequence[Study]:
    query = select(Study).order_by(Study.id.desc())
    if status is not None:
        query = query.where(Study.status == status)
    return session.exec(query).all()


def get_item(session: Session, *, item_id: int) -> StudyItem | None:
    return session.get(StudyItem, item_id)


def study_items(session: Session, *, study_id: int) -> Sequence[StudyItem]:
    return session.exec(select(StudyItem).where(StudyItem.study_id == study_id)
                        .order_by(StudyItem.clip_id, StudyItem.position)).all()


def study_ratings(session: Session, *, study_id: int) -> Sequence[tuple[StudyRating, StudyItem]]:
    """Every rating of the study with its item."""
    query = (select(StudyRating, StudyItem).join(StudyItem, StudyItem.id == StudyRating.study_item_id)
             .where(StudyItem.study_id == study_id).order_by(StudyRating.id))
    return session.exec(query).all()


def ratings_by_rater(session: Session, *, study_id: int, rater_id: int) -> dict[int, StudyRating]:
    """The rater's own ratings in a study, by item id."""
    query = (select(StudyRating).join(StudyItem, StudyItem.id == StudyRating.study_item_id)
             .where(StudyItem.study_id == study_id, StudyRating.rater_id == rater_id))
    return {r.study_item_id: r for r in session.exec(query)}


def rating_counts(session: Session) -> dict[int, int]:
    """Number of ratings per study id."""
    query = (select(StudyItem.study_id, sa.func.count(StudyRating.id))
             .join(StudyRating, StudyRating.study_item_id == StudyItem.id).group_by(StudyItem.study_id))
    return {study_id: int(n) for study_id, n in session.exec(query)}


def item_counts(session: Session) -> dict[int, int]:
    """Number of items per study id."""
    query = select(StudyItem.study_id, sa.func.count(StudyItem.id)).group_by(StudyItem.study_id)
    return {study_id: int(n) for study_id, n in session.exec(query)}


def save_rating(session: Session, *, item_id: int, rater_id: int, rating: int, comment: str) -> StudyRating:
    """Insert or update the rater's own rating of one item."""
    def mine() -> StudyRating | None:
        return session.exec(select(StudyRating).where(StudyRating.study_item_id == item_id,
                                                      StudyRating.rater_id == rater_id)).first()

    row = mine()
    if row is None:
        try:
            # The same rater saving from two tabs at once: the second insert becomes an update.
            with session.begin_nested():
                row = StudyRating(study_item_id=item_id, rater_id=rater_id, rating=rating, comment=comment)
                session.add(row)
            return row
        except IntegrityError:
            row = mine()
    row.rating, row.comment = rating, comment
    session.add(row)
    session.flush()
    return row


def set_status(session: Session, *, study: Study, status: str) -> Study:
    study.status = status
    session.add(study)
    session.flush()
    return study


# --- preference studies -------------------------------------------------------------------------


def answer_counts(session: Session) -> dict[int, int]:
    """Number of preference answers per study id."""
    query = select(PreferenceAnswer.study_id, sa.func.count(PreferenceAnswer.id)).group_by(PreferenceAnswer.study_id)
    return {study_id: int(n) for study_id, n in session.exec(query)}


def answers_by_rater(session: Session, *, study_id: int, rater_id: int) -> dict[tuple[int, int, int], PreferenceAnswer]:
    """The rater's answers in a study, by (first item, second item, repeat)."""
    query = select(PreferenceAnswer).where(PreferenceAnswer.study_id == study_id,
                                           PreferenceAnswer.rater_id == rater_id)
    return {(a.first_item_id, a.second_item_id, a.repeat): a for a in session.exec(query)}


def study_answers(session: Session, *, study_id: int) -> Sequence[PreferenceAnswer]:
    return session.exec(select(PreferenceAnswer).where(PreferenceAnswer.study_id == study_id)
                        .order_by(PreferenceAnswer.id)).all()


def save_answer(session: Session, *, study_id: int, clip_id: int, rater_id: int, first_item_id: int,
                second_item_id: int, repeat: int, shown_first: bool, choice: str,
                preferred_item_id: int | None) -> PreferenceAnswer:
    """Insert or update the rater's answer on one showing of a pair."""
    def mine() -> PreferenceAnswer | None:
        return session.exec(select(PreferenceAnswer).where(
            PreferenceAnswer.study_id == study_id, PreferenceAnswer.rater_id == rater_id,
            PreferenceAnswer.first_item_id == first_item_id, PreferenceAnswer.second_item_id == second_item_id,
            PreferenceAnswer.repeat == repeat)).first()

    row = mine()
    if row is None:
        try:
            with session.begin_nested():  # two tabs answering at once: the second insert becomes an update
                row = PreferenceAnswer(study_id=study_id, clip_id=clip_id, rater_id=rater_id,
                                       first_item_id=first_item_id, second_item_id=second_item_id, repeat=repeat,
                                       shown_first=shown_first, choice=choice, preferred_item_id=preferred_item_id)
                session.add(row)
            return row
        except IntegrityError:
            row = mine()
    row.shown_first, row.choice, row.preferred_item_id = shown_first, choice, preferred_item_id
    session.add(row)
    session.flush()
    return row
