"""Consensus revisions with optimistic locking, and adjudication, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from annotation.labelling.adjudication import (
    accept,
    adjudication_queue,
    auto_accept,
    propose,
    send_back,
)
from annotation.permissions import PermissionDenied
from db.models import AuditLog, Clip, Consensus, Dataset, User
from db.queries.consensus import (
    ConsensusConflict,
    add_consensus_revision,
    consensus_history,
    current_consensus,
)
from tests.annotation.factories_consensus import (
    make_annotation,
    make_clip,
    make_dataset,
    make_prediction,
    make_user,
)

FROWN = {"facial": "He frowns and narrows his eyes.", "vocal": "His voice is loud and sharp."}
FROWN_TOO = {"facial": "The person is frowning with narrowed eyes.", "vocal": "He speaks loudly and sharply."}


def revision(session, clip_id, expected, emotion="happy"):
    return add_consensus_revision(
        session, clip_id=clip_id, expected_version=expected, emotion=emotion, posterior={emotion: 1.0},
        clues={"facial": "smiles"}, rating_median=3.0, rating_spread=0.0, method="majority",
        source_annotation_ids=[1, 2], accepted_by_id=None,
    )


@pytest.fixture
def world(db_engine):
    with Session(db_engine) as session:
        lead = make_user(session, "lead", "lead")
        annotators = [make_user(session, f"ann{i}", "annotator") for i in range(3)]
        dataset = make_dataset(session, overlap=3)
        clip = make_clip(session, dataset, "clip-1")
        make_prediction(session, clip, {"facial": "He looks calm.", "vocal": "Normal voice."})
        for i, who in enumerate(annotators):
            make_annotation(session, clip, who, emotion="angry" if i < 2 else "sad",
                            clues=FROWN if i != 1 else FROWN_TOO, rating=2 + i % 2, note=f"note {i}")
        session.commit()
        return {"lead": lead.id, "annotators": [a.id for a in annotators], "dataset": dataset.id, "clip": clip.id}


def test_revisions_never_overwrite_and_stale_versions_are_refused(db_engine, world):
    clip_id = world["clip"]
    with Session(db_engine) as session:
        first = revision(session, clip_id, None)
        with pytest.raises(ConsensusConflict):
            revision(session, clip_id, None)  # someone saw "no consensus" after one exists
        second = revision(session, clip_id, first.version, emotion="sad")
        session.commit()
        with pytest.raises(ConsensusConflict):
            revision(session, clip_id, first.version)  # the version seen is now stale
        session.rollback()
        history = consensus_history(session, clip_id=clip_id)
        assert [c.revision for c in history] == [2, 1]
        assert [c.is_current for c in history] == [True, False]
        assert history[1].emotion == "happy" and (history[1].version, history[0].version) == (1, 2)
        assert current_consensus(session, clip_id=clip_id).id == second.id


def test_two_leads_saving_the_same_clip_get_a_conflict(db_engine, world):
    clip_id = world["clip"]
    with Session(db_engine) as setup:
        base = revision(setup, clip_id, None)
        setup.commit()
        seen = base.version
    with Session(db_engine) as first, Session(db_engine) as second:
        revision(first, clip_id, seen, emotion="angry")
        first.commit()
        with pytest.raises(ConsensusConflict):
            revision(second, clip_id, seen, emotion="sad")
        second.rollback()
    with Session(db_engine) as check:
        assert current_consensus(session=check, clip_id=clip_id).emotion == "angry"
        assert len(consensus_history(check, clip_id=clip_id)) == 2


def test_lead_accepts_proposal_with_sources_and_edits(db_engine, world):
    with Session(db_engine) as session:
        lead = session.get(User, world["lead"])
        proposal = propose(session, clip_id=world["clip"])
        assert proposal.emotion.label == "angry" and proposal.emotion.method == "majority"
        assert proposal.rating.median == 2.0 and proposal.rating.spread == 1.0
        assert proposal.prediction.clues["facial"] == "He looks calm."
        assert proposal.aspects["facial"].merged.text.startswith("The person")
        row = accept(session, user=lead, proposal=proposal)
        session.commit()
        assert row.revision == 1 and row.accepted_by_id == lead.id and not row.auto_accepted
        assert sorted(row.source_annotation_ids) == sorted(a.id for a in proposal.annotations)
        assert row.method == "majority"

        again = propose(session, clip_id=world["clip"])
        edited = accept(session, user=lead, proposal=again, emotion="sad", clues={"scene": "A dim office."})
        session.commit()
        assert edited.revision == 2 and edited.method == "majority+edited"
        assert edited.clues["scene"] == "A dim office." and edited.clues["facial"] == row.clues["facial"]
        assert session.get(Consensus, row.id).is_current is False
        assert session.query(AuditLog).filter(AuditLog.action == "consensus.accept").count() == 2


def test_stale_proposal_cannot_be_accepted(db_engine, world):
    with Session(db_engine) as session:
        lead = session.get(User, world["lead"])
        stale = propose(session, clip_id=world["clip"])
        accept(session, user=lead, proposal=propose(session, clip_id=world["clip"]))
        session.commit()
        with pytest.raises(ConsensusConflict):
            accept(session, user=lead, proposal=stale)


def test_annotators_may_not_adjudicate(db_engine, world):
    with Session(db_engine) as session:
        annotator = session.get(User, world["annotators"][0])
        proposal = propose(session, clip_id=world["clip"])
        with pytest.raises(PermissionDenied):
            accept(session, user=annotator, proposal=proposal)
        with pytest.raises(PermissionDenied):
            send_back(session, user=annotator, clip_id=world["clip"])
        with pytest.raises(PermissionDenied):
            auto_accept(session, user=annotator, dataset_id=world["dataset"])
        assert current_consensus(session, clip_id=world["clip"]) is None


def test_send_back_raises_overlap_and_leaves_the_queue(db_engine, world):
    with Session(db_engine) as session:
        lead = session.get(User, world["lead"])
        assert [i.clip_id for i in adjudication_queue(session, dataset_id=world["dataset"])] == [world["clip"]]
        assert send_back(session, user=lead, clip_id=world["clip"], extra=2) == 5
        session.commit()
        assert session.get(Clip, world["clip"]).overlap_override == 5
        assert adjudication_queue(session, dataset_id=world["dataset"]) == []


def test_auto_accept_takes_clear_clips_and_queues_the_rest_lowest_agreement_first(db_engine, world):
    with Session(db_engine) as session:
        lead = session.get(User, world["lead"])
        annotators = [session.get(User, i) for i in world["annotators"]]
        dataset = session.get(Dataset, world["dataset"])
        dataset.settings = {"auto_accept_posterior": 0.9, "auto_accept_clue_agreement": 0.6}
        session.add(dataset)
        clear = make_clip(session, dataset, "clear")
        split = make_clip(session, dataset, "split")
        for who in annotators:
            make_annotation(session, clear, who, emotion="happy", clues={"facial": "She smiles widely."})
        for who, emotion in zip(annotators, ["happy", "sad", "angry"], strict=False):
            make_annotation(session, split, who, emotion=emotion, clues={"facial": "She smiles widely."})
        session.commit()

        queue = adjudication_queue(session, dataset_id=dataset.id)
        assert [i.clip_name for i in queue] == ["split", "clip-1", "clear"]
        assert [i.agreement for i in queue] == sorted(i.agreement for i in queue)

        report = auto_accept(session, user=lead, dataset_id=dataset.id)
        session.commit()
        assert report.accepted == [clear.id] and report.left_for_review == 2
        row = current_consensus(session, clip_id=clear.id)
        assert row.auto_accepted and row.accepted_by_id is None and row.emotion == "happy"
        assert row.clues["facial"] == "She smiles widely."  # identical clues are stored as written
        assert [i.clip_name for i in adjudication_queue(session, dataset_id=dataset.id)] == ["split", "clip-1"]


def test_new_annotation_after_consensus_puts_clip_back_in_queue(db_engine, world):
    with Session(db_engine) as session:
        lead = session.get(User, world["lead"])
        accept(session, user=lead, proposal=propose(session, clip_id=world["clip"]))
        session.commit()
        assert adjudication_queue(session, dataset_id=world["dataset"]) == []
        late = make_user(session, "late", "annotator")
        make_annotation(session, session.get(Clip, world["clip"]), late, emotion="angry", clues=FROWN)
        session.commit()
        item = adjudication_queue(session, dataset_id=world["dataset"])[0]
        assert item.has_consensus and item.n_annotations == 4



def test_queue_agreement_matches_each_clip_proposal(db_engine, world):
    with Session(db_engine) as session:
        dataset = session.get(Dataset, world["dataset"])
        annotators = [session.get(User, i) for i in world["annotators"]]
        for n, texts in enumerate([["He smiles.", "She smiles.", "A dog barks."], ["", "", ""]]):
            clip = make_clip(session, dataset, f"extra-{n}")
            for who, text, emotion in zip(annotators, texts, ["happy", "happy", "sad"], strict=False):
                make_annotation(session, clip, who, emotion=emotion, clues={"facial": text, "scene": text})
        session.commit()
        queue = adjudication_queue(session, dataset_id=dataset.id)
        assert len(queue) == 3
        for item in queue:
            proposal = propose(session, clip_id=item.clip_id)
            assert item.agreement == pytest.approx(proposal.agreement, abs=1e-6)
            assert item.clue_agreement == pytest.approx(proposal.clue_agreement, abs=1e-6)
            assert item.emotion == proposal.emotion.label
