"""Consensus proposals: Dawid-Skene vs majority vote, ordinal rating summary, extractive clue merge."""

from __future__ import annotations

import numpy as np
import pytest

from annotation.labelling.consensus import (
    Vote,
    dawid_skene,
    majority_vote,
    merge_clues,
    normalise_subject,
    rating_consensus,
)
from core.vocabulary import LABEL_SETS

LABELS = list(LABEL_SETS["mer2023"])


def simulate(seed: int, clips: int = 400):
    """Three honest annotators of mixed accuracy and two adversarial ones who shift every label by one."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, len(LABELS), clips)
    votes = []
    honest = {"ann": 0.7, "bea": 0.6, "cai": 0.5}
    for clip in range(clips):
        for who, accuracy in honest.items():
            label = truth[clip] if rng.random() < accuracy else rng.integers(0, len(LABELS))
            votes.append(Vote(clip, who, LABELS[label]))
        for who in ("dan", "eve"):
            label = (truth[clip] + 1) % len(LABELS) if rng.random() < 0.85 else rng.integers(0, len(LABELS))
            votes.append(Vote(clip, who, LABELS[label]))
    return votes, [LABELS[t] for t in truth]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dawid_skene_beats_majority_vote_with_adversarial_annotators(seed):
    votes, truth = simulate(seed)
    ds = dawid_skene(votes, LABELS)
    mv = majority_vote(votes, LABELS)
    ds_accuracy = np.mean([ds.clips[c].label == t for c, t in enumerate(truth)])
    mv_accuracy = np.mean([mv[c].label == t for c, t in enumerate(truth)])
    assert ds_accuracy > mv_accuracy + 0.15
    assert ds_accuracy > 0.85
    # The adversaries are almost never right; the best honest annotator is.
    assert ds.annotators["dan"].accuracy < 0.2 < 0.6 < ds.annotators["ann"].accuracy
    # Their confusion matrices show the shift: true "neutral" is reported as "angry".
    assert ds.annotators["dan"].confusion.loc["angry", "neutral"] > 0.7
    for consensus in ds.clips.values():
        assert set(consensus.posterior) == set(LABELS)
        assert sum(consensus.posterior.values()) == pytest.approx(1.0)


def test_majority_vote_posterior_is_vote_share_and_ties_follow_label_set_order():
    votes = [Vote(1, "a", "sad"), Vote(1, "b", "happy"), Vote(2, "a", "sad"), Vote(2, "b", "sad"), Vote(2, "c", "angry")]
    result = majority_vote(votes, LABELS)
    assert result[1].label == "happy"  # tie: happy comes before sad in the label set
    assert result[2].label == "sad" and result[2].posterior["sad"] == pytest.approx(2 / 3)
    assert result[2].votes == {"sad": 2, "angry": 1}


def test_open_vocabulary_labels_are_kept():
    votes = [Vote(1, "a", "nostalgic"), Vote(1, "b", "nostalgic")]
    assert majority_vote(votes, LABELS)[1].label == "nostalgic"


def test_rating_consensus_is_ordinal():
    assert rating_consensus([1, 4]).median == 1.0  # lower median: a scale point, never 2.5
    summary = rating_consensus([2, 3, 3, 4, None])
    assert (summary.median, summary.spread, summary.n) == (3.0, 1.0, 4)
    assert summary.counts == {2: 1, 3: 2, 4: 1}
    assert rating_consensus([None, None]) is None


def test_identical_clues_merge_to_the_clue():
    clue = "He frowns and narrows his eyes. His shoulders drop."
    merged = merge_clues({"a": clue, "b": clue, "c": clue})
    assert merged.text == clue  # the annotators' own words: subjects are normalised only to compare sentences
    assert all(c.support == 3 for c in merged.kept)


def test_disjoint_clues_have_no_majority():
    merged = merge_clues({
        "a": "He frowns deeply.",
        "b": "A dog barks outside the window.",
        "c": "The stock market closed lower today.",
    })
    assert merged.text == "" and not merged.has_majority
    assert len(merged.dropped) == 3


def test_english_paraphrases_cluster_and_a_lone_remark_is_dropped():
    merged = merge_clues({
        "a": "He frowns and narrows his eyes. His voice trembles.",
        "b": "The person is frowning with narrowed eyes. The person's voice is shaking.",
        "c": "She frowns, her eyes narrowed. A dog barks outside.",
    })
    assert len(merged.kept) == 2
    supports = sorted(c.support for c in merged.kept)
    assert supports == [2, 3]
    assert "dog" not in merged.text
    assert merged.text.startswith("The person")


def test_chinese_paraphrases_cluster():
    merged = merge_clues({
        "a": "他皱着眉头，眯起眼睛。窗外有狗在叫。",
        "b": "此人眉头紧皱，眼睛眯着。",
        "c": "她皱着眉头，眯起眼睛。",
    })
    assert len(merged.kept) == 1 and merged.kept[0].support == 3
    assert merged.text.startswith("此人") and "狗" not in merged.text


def test_normalise_subject():
    assert normalise_subject("She smiles.") == "The person smiles."
    assert normalise_subject("His hands shake.") == "The person's hands shake."
    assert normalise_subject("Shelves are empty.") == "Shelves are empty."
    assert normalise_subject("她笑了。") == "此人笑了。"
    assert normalise_subject("他的手在发抖。") == "此人的手在发抖。"


def test_empty_clues_support_nothing():
    merged = merge_clues({"a": "He smiles.", "b": "", "c": ""})
    assert merged.text == "" and merged.n_annotators == 3


@pytest.mark.parametrize("seed", [0, 1])
def test_dawid_skene_beats_majority_with_one_adversary_among_three(seed):
    """The usual overlap of three: two honest annotators and one who reports the next label 90% of the time."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, len(LABELS), 600)
    votes = []
    for clip, true in enumerate(truth):
        for who, accuracy in {"ann": 0.7, "bea": 0.6}.items():
            label = true if rng.random() < accuracy else rng.integers(0, len(LABELS))
            votes.append(Vote(clip, who, LABELS[label]))
        label = (true + 1) % len(LABELS) if rng.random() < 0.9 else rng.integers(0, len(LABELS))
        votes.append(Vote(clip, "eve", LABELS[label]))
    ds, mv = dawid_skene(votes, LABELS), majority_vote(votes, LABELS)
    ds_accuracy = np.mean([ds.clips[c].label == LABELS[t] for c, t in enumerate(truth)])
    mv_accuracy = np.mean([mv[c].label == LABELS[t] for c, t in enumerate(truth)])
    assert ds_accuracy > 0.85 and mv_accuracy < 0.7
    assert ds.annotators["eve"].accuracy < 0.1


@pytest.mark.parametrize("seed", [0, 3])
def test_dawid_skene_equals_crowd_kit(seed):
    """The vectorised EM is crowd-kit's DawidSkene to the last bits: posteriors, priors and confusions."""
    import pandas as pd
    from crowdkit.aggregation import DawidSkene

    votes, _ = simulate(seed, clips=300)
    rng = np.random.default_rng(seed)
    votes = [v for v in votes if rng.random() < 0.8]  # not every annotator on every clip
    votes.append(Vote(10_000, "ann", "nostalgic"))  # an open-vocabulary answer, on a clip of its own
    ours = dawid_skene(votes, LABELS)
    frame = pd.DataFrame({"task": [v.clip for v in votes], "worker": [v.annotator for v in votes],
                          "label": [v.label for v in votes]})
    theirs = DawidSkene(n_iter=100, tol=1e-5).fit(frame)
    labels = LABELS + ["nostalgic"]
    probas = theirs.probas_.reindex(columns=labels, fill_value=0.0).fillna(0.0)
    probas = probas.div(probas.sum(axis=1), axis=0)
    assert set(ours.clips) == set(probas.index)
    for clip in probas.index:
        assert [ours.clips[clip].posterior[label] for label in labels] == pytest.approx(
            probas.loc[clip].tolist(), abs=1e-9)
    priors = theirs.priors_.reindex(labels, fill_value=0.0)
    assert [ours.priors[label] for label in labels] == pytest.approx(priors.tolist(), abs=1e-9)
    for who, quality in ours.annotators.items():
        confusion = theirs.errors_.loc[who].reindex(index=labels, columns=labels, fill_value=0.0).fillna(0.0)
        np.testing.assert_allclose(quality.confusion.to_numpy(), confusion.to_numpy(), atol=1e-9)


def test_a_fitted_dawid_skene_scores_a_clip_from_its_current_votes_without_a_refit():
    votes, truth = simulate(0)
    ds = dawid_skene(votes, LABELS)
    clip_votes = [v for v in votes if v.clip == 5]
    assert ds.consensus_for(5, clip_votes) == ds.clips[5]  # the votes the model saw: its own posterior

    # A clip that came after the fit: the adversaries' shifted label is read back to the truth, as the fit does.
    true = LABELS.index(truth[5])
    late = [Vote("late", "dan", LABELS[(true + 1) % len(LABELS)]), Vote("late", "eve", LABELS[(true + 1) % len(LABELS)]),
            Vote("late", "ann", LABELS[true])]
    consensus = ds.consensus_for("late", late)
    assert consensus.label == LABELS[true] and consensus.method == "dawid_skene"
    assert sum(consensus.posterior.values()) == pytest.approx(1.0)
    assert consensus.votes == {LABELS[(true + 1) % len(LABELS)]: 2, LABELS[true]: 1}
    # With every vote the model saw plus nothing new, one E-step lands where the fit did.
    again = ds.consensus_for(5, [*clip_votes[:-1], Vote(5, clip_votes[-1].annotator, clip_votes[-1].label)])
    assert again.label == ds.clips[5].label

    assert ds.consensus_for("late", [*late, Vote("late", "newcomer", LABELS[0])]) is None  # unknown annotator
    refit = dawid_skene([*votes, *late], LABELS)
    assert refit.clips["late"].label == consensus.label
