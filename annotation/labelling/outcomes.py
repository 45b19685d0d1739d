"""How adjudication came out on an annotator's own clips: their emotion and clues against the consensus."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from annotation.permissions import require
from core.vocabulary import ASPECTS, Role
from db.engine import with_session
from db.models import User
from db.queries import annotations as annotation_queries


@dataclass
class Outcome:
    clip_id: int
    clip_name: str
    yours: str  # the annotator's emotion (word set, free text or label)
    consensus: str
    agreed: bool
    # aspect -> (your clue, the consensus clue); "no evidence" where that was marked.
    clues: dict[str, tuple[str, str]] = field(default_factory=dict)


def _emotion(words: list[str] | None, other: str | None, label: str | None) -> str:
    return ", ".join(words or []) or other or label or ""


@with_session
def my_outcomes(session: Session, *, user: User, dataset_id: int | None = None) -> list[Outcome]:
    """The user's own submitted annotations on adjudicated clips, each against its current consensus.

    Only the user's rows are read: another annotator's label or clues never reach this list.
    """
    require(user, Role.annotator, action="see your annotations")
    out = []
    for annotation, clip, consensus in annotation_queries.own_submissions_with_consensus(
            session, user_id=user.id, dataset_id=dataset_id):
        yours = _emotion(annotation.emotion_words, annotation.emotion_other, annotation.emotion)
        agreed_on = _emotion(consensus.emotion_words, None, consensus.emotion)
        if annotation.emotion_words or consensus.emotion_words:
            agreed = {w.strip().lower() for w in annotation.emotion_words or []} == \
                {w.strip().lower() for w in consensus.emotion_words or []}
        else:
            agreed = bool(yours) and yours.strip().lower() == agreed_on.strip().lower()
        clues = {}
        for aspect in ASPECTS:
            mine = "no evidence" if aspect.value in (annotation.no_evidence or []) else \
                (annotation.clues or {}).get(aspect.value, "")
            theirs = (consensus.clues or {}).get(aspect.value, "")
            if mine or theirs:
                clues[aspect.value] = (mine, theirs)
        out.append(Outcome(clip_id=clip.id, clip_name=clip.name, yours=yours, consensus=agreed_on, agreed=agreed,
                           clues=clues))
    return out
