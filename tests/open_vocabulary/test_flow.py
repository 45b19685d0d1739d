"""One open-vocabulary case end to end: three annotators' word sets → the proposed consensus set → the
lead accepts → EW numbers for the model, each annotator and an imported system; α on the sets; the
`name,openset` CSV and npz out and back in."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from annotation.agreement.word_sets import word_set_agreement
from annotation.formats.evaluate import openset_scores
from annotation.formats.export_service import export_dataset, gather_rows
from annotation.formats.service import import_file
from annotation.labelling import adjudication
from annotation.labelling.annotate import InvalidAnnotation, submit
from tests.open_vocabulary.factories import filled, open_vocabulary_world
from tests.queue.factories import make_users


@pytest.fixture
def world(db_engine):
    return db_engine, *open_vocabulary_world(db_engine)


def accept_all(engine, clips, lead):
    with Session(engine) as session:
        for clip in clips:
            adjudication.accept(session, user=lead, proposal=adjudication.propose(session, clip_id=clip.id))


def test_a_words_only_dataset_needs_a_word_not_an_emotion(db_engine):
    dataset, clips, *_ = open_vocabulary_world(db_engine, annotate=False)
    (dan,) = make_users(db_engine, ["dan"])
    with Session(db_engine, expire_on_commit=False) as session:
        with pytest.raises(InvalidAnnotation, match="at least one emotion word"):
            submit(session, user=dan, clip_id=clips[0].id, values=filled([]))
        saved = submit(session, user=dan, clip_id=clips[0].id, values=filled([" Nostalgic ", "nostalgic"]))
    assert saved.emotion is None and saved.emotion_words == ["nostalgic"]


def test_proposal_holds_the_majority_categories_with_their_raw_words(world):
    engine, dataset, clips, version_id, annotators, lead = world
    with Session(engine) as session:
        proposal = adjudication.propose(session, clip_id=clips[0].id)
    assert proposal.emotion_words == ["happy"]
    votes = {v.category: v for v in proposal.word_votes}
    # ann: happy, joyful; bob: happy, relieved; cat: angry -> happy reached by 2 of 3, mad by 1.
    assert votes["happy"].supporters == 2 and votes["happy"].raw_words == {"happy": 2, "joyful": 1, "relieved": 1}
    assert not votes["mad"].majority
    with Session(engine, expire_on_commit=False) as session:
        row = adjudication.accept(session, user=lead, proposal=adjudication.propose(session, clip_id=clips[1].id),
                                  emotion_words=["sad", "Lonely"])
        session.commit()
    assert row.emotion_words == ["sad", "lonely"] and row.method.endswith("+edited")


def test_ew_numbers_against_the_consensus_sets(world):
    engine, dataset, clips, version_id, annotators, lead = world
    accept_all(engine, clips, lead)
    with Session(engine) as session:
        result = openset_scores(session, dataset_id=dataset.id, reference="consensus",
                                systems=[f"model:{version_id}", "annotations"])
    table = result.table.set_index("system")
    # Consensus: clip 0 {happy}, clip 1 {sad}. The model said {happy, surprised} and {angry}: it finds clip 0's
    # category on every wheel and misses clip 1, so recall is 0.5 and the hit rate 0.5; "surprised" is a
    # second category on four of the five wheels, so precision is (0.5·4 + 1)/5 / 2 = 0.3.
    model = table.loc[f"model:{version_id}"]
    assert (model.level1_recall, model.level1_precision, model.hit_rate) == pytest.approx((0.5, 0.3, 0.5))
    assert model.level1_f == pytest.approx(0.36666666666666664)
    assert model.mean_f == pytest.approx(0.36666666666666664)
    # ann wrote happy+joyful and sad: every level-1 category right; joyful splits from happy at level 2.
    ann = table.loc["annotator:ann"]
    assert (ann.level1_f, ann.hit_rate) == pytest.approx((1.0, 1.0))
    assert ann.level2_f == pytest.approx(0.9428571428571428) and ann.mean_f == pytest.approx(0.9714285714285714)
    assert table.loc["annotator:bob"].mean_f == pytest.approx(0.9285714285714286)
    cat = table.loc["annotator:cat"]
    assert (cat.level1_f, cat.hit_rate) == (0.0, 0.0)
    assert cat.unmapped == "blorfish"
    assert result.gold_clips == 2 and result.gold_unmapped == []


def test_word_set_agreement_by_hand(world):
    engine, dataset, *_ = world
    with Session(engine) as session:
        report = word_set_agreement(session, dataset_id=dataset.id, resamples=100, seed=3)
    # Mapped sets: clip 0 {happy},{happy},{mad}; clip 1 {sad},{sad},{scared,~blorfish}: all different sets are
    # disjoint, so MASI and Jaccard both give nominal α = 1 − 5·4 / (36 − 10) = 3/13.
    figures = report.figures.set_index("distance")
    assert figures.loc["masi", "value"] == pytest.approx(3 / 13)
    assert figures.loc["jaccard", "value"] == pytest.approx(3 / 13)
    people = report.annotators.set_index("annotator")
    assert people.loc["cat", "masi_alpha_without"] == pytest.approx(1.0)  # ann and bob agree perfectly
    assert people.loc["cat", "masi_alpha_change"] > 0 > people.loc["ann", "masi_alpha_change"]
    assert people.loc["cat", "mean_masi_to_others"] == pytest.approx(1.0)


@pytest.mark.parametrize("format_name,suffix", [("openset-csv", ".csv"), ("openset-npz", ".npz")])
def test_openset_files_round_trip_through_import_and_export(world, tmp_path, format_name, suffix):
    engine, dataset, clips, version_id, annotators, lead = world
    accept_all(engine, clips, lead)
    target = tmp_path / f"gt{suffix}"
    with Session(engine) as session:
        files = export_dataset(session, dataset=dataset, source="consensus", format=format_name, path=target,
                               user=lead)
        assert files[0] == target and files[-1].name.endswith(".meta.json")
        report = import_file(session, dataset=dataset, path=target, media_dir=None, user=lead,
                             source="mer-gt")
        session.commit()
    assert report.references_created == 2 and not report.errors
    with Session(engine) as session:
        imported = {r.name: r.emotion_words for r in gather_rows(session, dataset_id=dataset.id,
                                                                   source="reference:mer-gt")}
        scored = openset_scores(session, dataset_id=dataset.id, reference="reference:mer-gt", systems=["consensus"])
    assert imported == {clips[0].name: ["happy"], clips[1].name: ["sad"]}
    assert scored.table.loc[0, "mean_f"] == pytest.approx(1.0)


def test_a_dataset_may_have_word_sets_instead_of_a_label_set(db_engine):
    from annotation.datasets import WORDS_ONLY, DatasetError, create_dataset

    (lead,) = make_users(db_engine, ["boss"], roles=("lead",))
    with Session(db_engine, expire_on_commit=False) as session:
        with pytest.raises(DatasetError, match="needs open-vocabulary"):
            create_dataset(session, actor=lead, name="x", label_set=WORDS_ONLY)
        dataset = create_dataset(session, actor=lead, name="y", label_set=WORDS_ONLY, open_vocabulary=True)
    assert dataset.label_set == [] and dataset.open_vocabulary
