"""Undoing an accepted consensus, on SQLite and PostgreSQL: only a lead, only while nothing used it."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from annotation.labelling.adjudication import ConsensusInUse, accept, propose, undo_accept
from annotation.permissions import PermissionDenied
from db.models import AuditLog, Consensus, ModelVersion, User
from db.queries.consensus import consensus_history, current_consensus
from tests.annotation.factories_consensus import make_annotation, make_clip, make_dataset, make_user

CLUES = {"facial": "AU12 0.52 at 1.5 s: the corners of the mouth rise.", "vocal": "音量比中位数高 9 dB。"}


@pytest.fixture
def world(db_engine):
    with Session(db_engine) as session:
        lead = make_user(session, "lead", "lead")
        annotators = [make_user(session, f"ann{i}", "annotator") for i in range(2)]
        dataset = make_dataset(session, overlap=2)
        clip = make_clip(session, dataset, "clip-1")
        for who in annotators:
            make_annotation(session, clip, who, emotion="happy", clues=CLUES)
        session.commit()
        return {"lead": lead.id, "annotator": annotators[0].id, "clip": clip.id}


def _accept(session, lead, clip_id, **edits):
    row = accept(session, user=lead, proposal=propose(session, clip_id=clip_id), **edits)
    session.commit()
    return row


def test_undo_removes_the_accepted_consensus_and_audits_it(db_engine, world):
    with Session(db_engine) as session:
        lead = session.get(User, world["lead"])
        row = _accept(session, lead, world["clip"])
        assert row.clues["vocal"] == CLUES["vocal"] and row.clues["facial"] == CLUES["facial"]
        undo_accept(session, user=lead, consensus_id=row.id)
        session.commit()
        assert current_consensus(session, clip_id=world["clip"]) is None
        assert consensus_history(session, clip_id=world["clip"]) == []
        entry = session.query(AuditLog).filter(AuditLog.action == "consensus.undo").one()
        assert entry.user_id == lead.id and entry.detail["clip_id"] == world["clip"]
        assert entry.detail["revision"] == 1
        assert {k: v for k, v in entry.detail["clues"].items() if v} == CLUES
        # the clip waits again and can be accepted afresh
        again = _accept(session, lead, world["clip"])
        assert again.revision == 1 and again.is_current


def test_undo_of_a_second_revision_brings_the_first_back(db_engine, world):
    with Session(db_engine) as session:
        lead = session.get(User, world["lead"])
        first = _accept(session, lead, world["clip"])
        second = _accept(session, lead, world["clip"], emotion="sad")
        undo_accept(session, user=lead, consensus_id=second.id)
        session.commit()
        back = current_consensus(session, clip_id=world["clip"])
        assert back.id == first.id and back.emotion == "happy"
        assert back.version > second.version  # a page that saw the undone revision is stale


def test_only_a_lead_may_undo(db_engine, world):
    with Session(db_engine) as session:
        row = _accept(session, session.get(User, world["lead"]), world["clip"])
        with pytest.raises(PermissionDenied):
            undo_accept(session, user=session.get(User, world["annotator"]), consensus_id=row.id)
        session.rollback()
        assert session.get(Consensus, row.id) is not None


def test_no_undo_after_a_later_change(db_engine, world):
    with Session(db_engine) as session:
        lead = session.get(User, world["lead"])
        first = _accept(session, lead, world["clip"])
        _accept(session, lead, world["clip"], emotion="sad")
        with pytest.raises(ConsensusInUse, match="changed"):
            undo_accept(session, user=lead, consensus_id=first.id)
        session.rollback()
        assert len(consensus_history(session, clip_id=world["clip"])) == 2


def test_no_undo_once_a_trained_version_used_it(db_engine, world):
    with Session(db_engine) as session:
        lead = session.get(User, world["lead"])
        row = _accept(session, lead, world["clip"])
        session.add(ModelVersion(backend="baseline", name="v1", snapshot={"consensus_ids": [row.id], "hash": "x"}))
        session.commit()
        with pytest.raises(ConsensusInUse, match="v1"):
            undo_accept(session, user=lead, consensus_id=row.id)
        session.rollback()
        assert current_consensus(session, clip_id=world["clip"]).id == row.id
