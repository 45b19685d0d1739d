"""The lead pages' caches follow the data: a cheap data version per dataset, and the Adjudicate queue and
Agreement report rebuilt only when it moves (SQLite and PostgreSQL for the version)."""

from __future__ import annotations

import time

import pytest
from sqlmodel import Session

from annotation.agreement import report as agreement_report
from annotation.agreement.report import dataset_annotators
from annotation.labelling import adjudication
from annotation.labelling.adjudication import accept, propose, send_back
from cluelab.bootstrap import init_database
from core.vocabulary import AnnotationStatus
from db.engine import get_engine
from db.models import Clip, Dataset, User
from db.queries import annotations as annotation_queries
from db.queries.consensus import data_version
from tests.annotation.factories_consensus import make_annotation, make_clip, make_dataset, make_user


def _world(session: Session) -> dict:
    lead = make_user(session, "lead", "lead")
    annotators = [make_user(session, f"ann{i}", "annotator") for i in range(3)]
    dataset = make_dataset(session, overlap=3)
    clip = make_clip(session, dataset, "clip-1")
    for i, who in enumerate(annotators):
        make_annotation(session, clip, who, emotion="angry" if i < 2 else "sad", clues={"facial": "He frowns."})
    session.commit()
    return {"lead": lead.id, "annotators": [a.id for a in annotators], "dataset": dataset.id, "clip": clip.id}


def test_data_version_moves_with_submissions_decisions_and_send_backs_not_with_drafts(db_engine):
    with Session(db_engine) as session:
        world = _world(session)
        dataset_id = world["dataset"]
        first = data_version(session, dataset_id=dataset_id)
        assert data_version(session, dataset_id=dataset_id) == first

        late = make_user(session, "late", "annotator")
        clip = session.get(Clip, world["clip"])
        annotation_queries.upsert_draft(session, clip_id=clip.id, user_id=late.id,
                                        values={"clues": {"facial": "typing…"}, "status": "draft"})
        session.commit()
        assert data_version(session, dataset_id=dataset_id) == first  # an autosaved draft changes nothing

        other = make_clip(session, session.get(Dataset, dataset_id), "clip-2")
        time.sleep(0.002)
        make_annotation(session, other, late, emotion="happy")
        session.commit()
        submitted = data_version(session, dataset_id=dataset_id)
        assert submitted != first

        lead = session.get(User, world["lead"])
        accept(session, user=lead, proposal=propose(session, clip_id=clip.id))
        session.commit()
        decided = data_version(session, dataset_id=dataset_id)
        assert decided != submitted

        send_back(session, user=lead, clip_id=clip.id, extra=1)
        session.commit()
        assert data_version(session, dataset_id=dataset_id) != decided


def test_dataset_annotators_lists_everyone_who_finished_an_annotation(db_engine):
    with Session(db_engine) as session:
        world = _world(session)
        skipper = make_user(session, "skipper", "annotator")
        drafter = make_user(session, "drafter", "annotator")
        clip = session.get(Clip, world["clip"])
        make_annotation(session, clip, skipper, status=AnnotationStatus.skipped.value)
        make_annotation(session, clip, drafter, status=AnnotationStatus.draft.value)
        session.commit()
        people = dataset_annotators(session, dataset_id=world["dataset"])
        assert list(people) == sorted([*world["annotators"], skipper.id])
        assert people[skipper.id] == "skipper"


@pytest.fixture
def instant_refresh(monkeypatch: pytest.MonkeyPatch):
    """The page caches check their data on every read (as they do after QUEUE_MAX_AGE / REPORT_MAX_AGE)."""
    monkeypatch.setattr(adjudication._queues, "max_age", 0.0)
    monkeypatch.setattr(agreement_report._reports, "max_age", 0.0)


def _settle(read, expected, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while (value := read()) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def test_adjudication_queue_is_rebuilt_only_when_its_data_changed(instant_refresh):
    init_database()
    with Session(get_engine(), expire_on_commit=False) as session:
        world = _world(session)
    dataset_id = world["dataset"]
    builds = adjudication._queues.builds
    queue, _ = adjudication.cached_queue(dataset_id)
    assert [i.clip_id for i in queue] == [world["clip"]]
    for _ in range(5):  # reads with nothing new: the version is checked, the queue is not rebuilt
        adjudication.cached_queue(dataset_id)
        time.sleep(0.05)
    assert adjudication._queues.builds == builds + 1

    with Session(get_engine(), expire_on_commit=False) as session:
        dataset = session.get(Dataset, dataset_id)
        extra = make_clip(session, dataset, "clip-2")
        for who in world["annotators"]:
            make_annotation(session, extra, session.get(User, who), emotion="happy")
        session.commit()
    ids = _settle(lambda: sorted(i.clip_id for i in adjudication.cached_queue(dataset_id)[0]),
                  sorted([world["clip"], extra.id]))
    assert ids == sorted([world["clip"], extra.id])
    assert adjudication._queues.builds == builds + 2


def test_agreement_report_is_rebuilt_only_when_its_data_changed(instant_refresh):
    init_database()
    with Session(get_engine(), expire_on_commit=False) as session:
        world = _world(session)
    dataset_id = world["dataset"]
    builds = agreement_report._reports.builds
    report = agreement_report.cached_report(dataset_id=dataset_id, resamples=100)
    assert report.n_annotations == 3
    for _ in range(5):
        agreement_report.cached_report(dataset_id=dataset_id, resamples=100)
        time.sleep(0.05)
    assert agreement_report._reports.builds == builds + 1

    with Session(get_engine(), expire_on_commit=False) as session:
        late = make_user(session, "late", "annotator")
        make_annotation(session, session.get(Clip, world["clip"]), late, emotion="angry")
        session.commit()
    count = _settle(lambda: agreement_report.cached_report(dataset_id=dataset_id, resamples=100).n_annotations, 4)
    assert count == 4
    assert agreement_report._reports.builds == builds + 2


def test_a_proposal_embeds_its_clip_in_one_call_and_proposes_the_same(db_engine, monkeypatch):
    from annotation import embeddings
    from annotation.agreement.clues import default_embed

    with Session(db_engine) as session:
        world = _world(session)
        clip = make_clip(session, session.get(Dataset, world["dataset"]), "wordy")
        texts = [{"facial": "He frowns. His eyes narrow.", "vocal": "Loud voice.", "scene": "An office."},
                 {"facial": "The person frowns; eyes narrowed.", "vocal": "He shouts.", "scene": "An office."},
                 {"facial": "She smiles.", "vocal": "", "scene": "A kitchen at night."}]
        for who, clues in zip(world["annotators"], texts, strict=True):
            make_annotation(session, clip, session.get(User, who), emotion="angry", clues=clues)
        session.commit()
        one_by_one = propose(session, clip_id=clip.id, embed=default_embed)  # each merge and agreement apart

        calls = []
        real = embeddings.embed
        monkeypatch.setattr(embeddings, "embed", lambda batch: calls.append(len(batch)) or real(batch))
        batched = propose(session, clip_id=clip.id)
        assert len(calls) == 1
        for aspect, part in batched.aspects.items():
            assert part.merged.text == one_by_one.aspects[aspect].merged.text
            if part.agreement is None:
                assert one_by_one.aspects[aspect].agreement is None
            else:
                assert part.agreement == pytest.approx(one_by_one.aspects[aspect].agreement, abs=1e-5)


def test_emotion_prototypes_are_embedded_once_per_process():
    from annotation.embeddings import embed as real_embed
    from annotation.evaluation.clue_quality import consistency_scores

    batches: list[list[str]] = []

    def counting(texts):
        batches.append(list(texts))
        return real_embed(texts)

    texts, emotions = ["He shouts and slams the table."], ["angry"]
    first = consistency_scores(texts, emotions, ["happy", "angry", "sad"], embed=counting)
    second = consistency_scores(texts, emotions, ["happy", "angry", "sad"], embed=counting)
    assert len(batches[0]) == 4 and batches[1] == texts  # the prototypes only the first time
    assert second[0][0] == pytest.approx(first[0][0], abs=1e-5)  # float32 sums in another batch
    assert second[0][1:] == first[0][1:] == (True, "angry")


def test_the_next_queued_clip_is_worked_out_while_the_lead_reads_this_one(monkeypatch):
    from annotation import embeddings

    init_database()
    with Session(get_engine(), expire_on_commit=False) as session:
        world = _world(session)
        second = make_clip(session, session.get(Dataset, world["dataset"]), "clip-2")
        for who, text in zip(world["annotators"], ["She smiles.", "A wide smile.", "She grins."], strict=True):
            make_annotation(session, second, session.get(User, who), emotion="happy", clues={"facial": text})
        session.commit()
    queue, model = adjudication.cached_queue(world["dataset"])
    first_id = queue[0].clip_id
    next_id = queue.after(first_id)
    assert {first_id, next_id} == {world["clip"], second.id} and queue.after(next_id) == first_id

    calls = []
    real = embeddings.embed
    monkeypatch.setattr(embeddings, "embed", lambda batch: calls.append(list(batch)) or real(batch))
    shown = propose(clip_id=first_id, emotion_model=model)
    assert _settle(lambda: len(calls), 2) == 2  # this clip, then the next one in the background
    assert any("He frowns." in batch for batch in calls) and any("She smiles." in batch for batch in calls)
    again = propose(clip_id=first_id, emotion_model=model)  # a rerun of the page: nothing embedded
    following = propose(clip_id=next_id, emotion_model=model)  # "Next": ready
    assert len(calls) == 2
    assert again.aspects == shown.aspects
    from annotation.agreement.clues import default_embed
    fresh = propose(clip_id=next_id, emotion_model=model, embed=default_embed)
    assert {a: p.merged.text for a, p in following.aspects.items()} == {
        a: p.merged.text for a, p in fresh.aspects.items()}
