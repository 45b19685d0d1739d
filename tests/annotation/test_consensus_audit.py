"""Finding consensus clues stored corrupted by the old clue merge, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from annotation.labelling.consensus import merge_clues
from annotation.labelling.consensus_audit import corrupted_spots, find_corrupted_consensus
from db.queries.consensus import add_consensus_revision
from tests.annotation.factories_consensus import make_annotation, make_clip, make_dataset, make_user

AU = "The person smiles broadly (AU12 0.52). Brows relaxed."
RATE = "Moderate pace, 3.5 syllables/s. Pitch 282.5 Hz, 34% above median."
ZH_VOCAL = "音域 3.7 个半音；音量最高比中位数高 9 dB；每秒 3.2 个音节；声音不稳。"
CLEAN = "He counts to 3. Then he laughs. 2 people argue about the 1.5 m gap."


def store(session, clip, sources, clues, *, expected=None):
    return add_consensus_revision(
        session, clip_id=clip.id, expected_version=expected, emotion="happy", posterior={"happy": 1.0},
        clues=clues, rating_median=3.0, rating_spread=0.0, method="majority",
        source_annotation_ids=[a.id for a in sources], accepted_by_id=None,
    )


@pytest.fixture
def world(db_engine):
    """Clips whose consensus the old merge corrupted, one it left alone, and one in another dataset."""
    with Session(db_engine) as session:
        people = [make_user(session, f"ann{i}", "annotator") for i in range(3)]
        dataset, other = make_dataset(session, "pilot"), make_dataset(session, "other")
        ids = {}

        def clip_with(name, clues, stored, ds=dataset):
            clip = make_clip(session, ds, name)
            sources = [make_annotation(session, clip, who, clues={k: v[i] for k, v in clues.items()})
                       for i, who in enumerate(people)]
            ids[name] = (clip.id, store(session, clip, sources, stored).id)
            return clip, sources

        clip_with("au", {"facial": [AU] * 3, "scene": ["A kitchen."] * 3},
                  {"facial": "The person smiles broadly (AU12 0. 52). Brows relaxed.", "scene": "A kitchen."})
        clip_with("rate", {"vocal": [RATE] * 3},
                  {"vocal": "Moderate pace, 3. 5 syllables / s. Pitch 282. 5 Hz, 34% above median."})
        clip_with("neutral", {"facial": [f"Mouth corners up. Expression model: neutral {v}." for v in
                                         ("0.85", "0.61", "0.72")]},
                  {"facial": "Mouth corners up. Expression model: neutral 0."})
        clip_with("zh", {"vocal": [ZH_VOCAL, "音量最高比中位数高 9 dB；音域 3.7 个半音。", ZH_VOCAL]},
                  {"vocal": "音域 3.音量最高比中位数高 9 dB；7 个半音；每秒 3.2 个音节；声音不稳。"})
        clip_with("clean", {"verbal": [CLEAN] * 3}, {"verbal": CLEAN, "vocal": "Voice rises 3.5 st at the end."})
        # Corrupted once, then re-adjudicated cleanly: only the old revision is reported.
        clip, sources = clip_with("fixed", {"facial": [AU] * 3},
                                  {"facial": "The person smiles broadly (AU12 0. 52). Brows relaxed."})
        ids["fixed-2"] = (clip.id, store(session, clip, sources, {"facial": AU}, expected=1).id)
        clip_with("elsewhere", {"facial": [AU] * 3}, {"facial": "Smiles (AU12 0. 52)."}, ds=other)
        session.commit()
        return {"ids": ids, "dataset": dataset.id}


def test_each_reported_corruption_is_found_with_its_snippet(db_engine, world):
    with Session(db_engine) as session:
        found = find_corrupted_consensus(session, dataset_id=world["dataset"])
    ids = world["ids"]
    by_clip = {}
    for spot in found:
        by_clip.setdefault(spot.clip_id, []).append(spot)

    (au,) = by_clip[ids["au"][0]]
    assert (au.consensus_id, au.aspect, au.pattern, au.source_text) == (ids["au"][1], "facial", "split_decimal", "0.52")
    assert "0. 52" in au.snippet and au.is_current and au.revision == 1

    rate = by_clip[ids["rate"][0]]
    assert [(s.pattern, s.source_text) for s in rate] == [
        ("split_decimal", "3.5"), ("spaced_unit", "syllables/s"), ("split_decimal", "282.5")]
    assert "syllables / s" in rate[1].snippet

    (neutral,) = by_clip[ids["neutral"][0]]
    assert neutral.pattern == "cut_decimal" and neutral.snippet.endswith("neutral 0.")
    assert neutral.source_text == "neutral 0.85"

    zh = by_clip[ids["zh"][0]]
    assert [(s.pattern, s.source_text) for s in zh] == [("cut_decimal", "音域 3.7"), ("decimal_tail", "3.7 个半音；")]
    assert zh[0].snippet.startswith("音域 3.音量") and zh[0].offset == 3  # the "3" cut from 3.7

    assert ids["clean"][0] not in by_clip
    fixed = by_clip[ids["fixed"][0]]
    assert [(s.consensus_id, s.revision, s.is_current) for s in fixed] == [(ids["fixed"][1], 1, False)]
    assert ids["elsewhere"][0] not in by_clip


def test_current_only_and_all_datasets(db_engine, world):
    ids = world["ids"]
    with Session(db_engine) as session:
        current = {s.clip_id for s in find_corrupted_consensus(session, current_only=True)}
        everything = {s.clip_id for s in find_corrupted_consensus(session)}
    assert ids["fixed"][0] not in current and ids["elsewhere"][0] in current
    assert everything == current | {ids["fixed"][0]}
    assert ids["clean"][0] not in everything


def test_an_empty_database_has_nothing_to_report(db_engine):
    with Session(db_engine) as session:
        assert find_corrupted_consensus(session) == []


@pytest.mark.parametrize("text", [
    "He counts to 3. Then he laughs.",  # a number closing a sentence, no decimal in the sources
    "Happy / sad mix.",  # a spaced slash that is not a unit
    "2 people argue.",  # a sentence opening with a number
])
def test_ordinary_text_is_not_reported(text):
    assert corrupted_spots(text, [text, "Pitch 282.5 Hz."]) == []


def test_what_the_fixed_merge_stores_is_clean():
    clues = {"a": AU + " " + RATE, "b": RATE, "c": AU}
    assert corrupted_spots(merge_clues(clues).text, list(clues.values())) == []
    zh = {"a": ZH_VOCAL, "b": "音量最高比中位数高 9 dB；音域 3.7 个半音。", "c": ZH_VOCAL}
    assert corrupted_spots(merge_clues(zh).text, list(zh.values())) == []
