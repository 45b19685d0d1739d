"""Pairwise preference studies (EmoPrefer; MER2026 MER-Prefer): which of two descriptions is better?

A preference study is a `Study` of kind "preference" built like a rating study (`annotation.studies.
create_study`): K systems' outputs on M clips. Every clip gives K(K−1)/2 pairs, each in a canonical
order (the system listed first in the study is "first"). A rater sees the clip and two outputs as
"Description A" and "Description B" — system names never reach the page — and answers A, B or same.

Presentation, per rater and seeded: the pairs in a shuffled order, sides alternating along that order
(so each rater sees the canonical first output on side A for half the pairs, ±1), then a seeded
`repeat_share` of the pairs again at the end with the sides swapped, to measure swap consistency.

Results:
* **Bradley–Terry** strengths (log-strengths, mean 0) fitted with `choix.ilsr_pairwise_dense` on a
  comparison matrix in which a "same" counts half a win for each side (ties split as half wins; choix
  has no tie model). When the ML estimate does not exist (some system never loses or never wins, so the
  comparison graph is not strongly connected) the fit uses choix's regularisation α = 0.1 and says so.
  95% percentile bootstrap intervals resample clips (all of a clip's answers together).
* Win rates: (wins + ½ ties) / comparisons.
* Rater agreement: Krippendorff's α (nominal) on the answers mapped to the canonical order
  (first better / second better / same), one unit per pair, first showings only.
* Swap consistency: per rater, the share of repeated pairs whose canonical answer matches the first one.
Only first showings enter the strengths, win rates and agreement, so the repeats do not count twice.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import combinations

import choix
import numpy as np
import pandas as pd
from scipy.sparse.csgraph import connected_components
from sqlmodel import Session

from annotation.agreement import Estimate, agreement_estimate
from annotation.agreement.bootstrap import percentile_interval, resample_weights
from annotation.formats.instruct import VIDEO_TOKEN, prompt_for
from annotation.permissions import require
from annotation.studies import (
    DEFAULT_REPEAT_SHARE,
    StudyError,
    _require_rater,
    _study,
    repeat_count,
)
from core.vocabulary import PreferenceChoice, Role, StudyKind
from db.engine import unit_of_work, with_session
from db.models import Study, StudyItem, User
from db.queries import audit
from db.queries import clips as clip_queries
from db.queries import studies as queries

CHOICES = tuple(c.value for c in PreferenceChoice)
OUTCOMES = ("first", "second", "same")  # canonical answers
REGULARISATION = 0.1
DEFAULT_RESAMPLES = 500


@dataclass(frozen=True)
class Showing:
    """One pair as a rater sees it at position `rank` of their sequence."""

    rank: int
    clip_id: int
    first_item_id: int
    second_item_id: int
    repeat: int  # 0 first showing, 1 the swapped repeat
    shown_first: bool  # the canonical first output is on side A


def pairs_of(study: Study, items: list[StudyItem]) -> list[tuple[int, int, int]]:
    """(clip, first item, second item) for every pair of systems on every clip, canonical order, sorted."""
    rank = {system: i for i, system in enumerate(study.systems)}
    by_clip: dict[int, list[StudyItem]] = {}
    for item in items:
        by_clip.setdefault(item.clip_id, []).append(item)
    out = []
    for clip_id in sorted(by_clip):
        ordered = sorted(by_clip[clip_id], key=lambda i: rank[i.system])
        out += [(clip_id, a.id, b.id) for a, b in combinations(ordered, 2)]  # type: ignore[misc]
    return out


def schedule(study: Study, rater_id: int, pairs: list[tuple[int, int, int]]) -> list[Showing]:
    """The rater's sequence: every pair once (shuffled, sides alternating), then the swapped repeats."""
    rng = random.Random(f"{(study.settings or {}).get('seed', 0)}:{study.id}:{rater_id}:pairs")
    order = list(pairs)
    rng.shuffle(order)
    start_on_a = rng.random() < 0.5
    first = [Showing(rank, clip, a, b, 0, (rank % 2 == 0) == start_on_a) for rank, (clip, a, b) in enumerate(order)]
    share = float((study.settings or {}).get("repeat_share", DEFAULT_REPEAT_SHARE))
    again = rng.sample(first, repeat_count(len(first), share))
    return first + [Showing(len(first) + i, s.clip_id, s.first_item_id, s.second_item_id, 1, not s.shown_first)
                    for i, s in enumerate(again)]


# --- rating a pair -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    label: str  # "Description A" / "Description B"
    emotion: str | None
    text: str


@dataclass(frozen=True)
class BlindPair:
    study_id: int
    clip_id: int
    rank: int
    a: Side
    b: Side
    done: int
    total: int


def _preference_study(session: Session, study_id: int, user: User) -> Study:
    study = _study(session, study_id)
    if study.kind != StudyKind.preference.value:
        raise StudyError(f"the study {study.name!r} asks for ratings, not preferences")
    _require_rater(user, study)
    return study


@with_session
def next_pair_for(session: Session, *, user: User, study_id: int) -> BlindPair | None:
    """The rater's next unanswered pair, blind (sides only, no system or item ids); None when all are done."""
    study = _preference_study(session, study_id, user)
    items = list(queries.study_items(session, study_id=study.id))  # type: ignore[arg-type]
    by_id = {item.id: item for item in items}
    showings = schedule(study, user.id, pairs_of(study, items))  # type: ignore[arg-type]
    mine = queries.answers_by_rater(session, study_id=study.id, rater_id=user.id)  # type: ignore[arg-type]
    done = sum((s.first_item_id, s.second_item_id, s.repeat) in mine for s in showings)
    showing = next((s for s in showings if (s.first_item_id, s.second_item_id, s.repeat) not in mine), None)
    if showing is None:
        return None
    first, second = by_id[showing.first_item_id], by_id[showing.second_item_id]
    left, right = (first, second) if showing.shown_first else (second, first)
    return BlindPair(study_id=study.id, clip_id=showing.clip_id, rank=showing.rank,  # type: ignore[arg-type]
                     a=_side("Description A", left), b=_side("Description B", right), done=done,
                     total=len(showings))


def _side(label: str, item: StudyItem) -> Side:
    return Side(label=label, emotion=item.emotion, text=item.text)


@unit_of_work
def answer(session: Session, *, user: User, study_id: int, rank: int, choice: str) -> None:
    """Store the rater's A, B or same for the pair at `rank` of their sequence (changing it is allowed)."""
    study = _preference_study(session, study_id, user)
    if choice not in CHOICES:
        raise StudyError(f"an answer is one of {', '.join(CHOICES)}")
    items = list(queries.study_items(session, study_id=study.id))  # type: ignore[arg-type]
    showings = schedule(study, user.id, pairs_of(study, items))  # type: ignore[arg-type]
    if not 0 <= rank < len(showings):
        raise StudyError(f"no pair {rank} in the study {study.name!r}")
    s = showings[rank]
    on_a, on_b = (s.first_item_id, s.second_item_id) if s.shown_first else (s.second_item_id, s.first_item_id)
    preferred = {PreferenceChoice.a.value: on_a, PreferenceChoice.b.value: on_b}.get(choice)
    queries.save_answer(session, study_id=study.id, clip_id=s.clip_id, rater_id=user.id,  # type: ignore[arg-type]
                        first_item_id=s.first_item_id, second_item_id=s.second_item_id, repeat=s.repeat,
                        shown_first=s.shown_first, choice=choice, preferred_item_id=preferred)
    audit.record(session, user=user, action="answer_preference", entity="study", entity_id=study.id,
                 detail={"rank": rank, "choice": choice, "repeat": bool(s.repeat)})


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreferenceResults:
    strengths: pd.DataFrame  # system, strength, ci_low, ci_high, wins, losses, ties, comparisons, win_rate
    agreement: Estimate | None
    agreement_note: str
    consistency: pd.DataFrame  # rater_id, repeats, consistent, share
    answers: pd.DataFrame  # one row per answer, canonical: clip_id, first, second, rater_id, repeat, outcome
    regularised: bool  # True when the ML estimate did not exist and choix's regularisation was used


def outcome_of(answer_row) -> str:  # noqa: ANN001 - a PreferenceAnswer
    if answer_row.preferred_item_id is None:
        return "same"
    return "first" if answer_row.preferred_item_id == answer_row.first_item_id else "second"


def comparison_matrix(first: np.ndarray, second: np.ndarray, outcome: np.ndarray, k: int,
                      weights: np.ndarray | None = None) -> np.ndarray:
    """(K, K) wins of row over column; a "same" adds half a win each way."""
    w = np.ones(len(first)) if weights is None else weights
    out = np.zeros((k, k))
    np.add.at(out, (first[outcome == 0], second[outcome == 0]), w[outcome == 0])
    np.add.at(out, (second[outcome == 1], first[outcome == 1]), w[outcome == 1])
    np.add.at(out, (first[outcome == 2], second[outcome == 2]), 0.5 * w[outcome == 2])
    np.add.at(out, (second[outcome == 2], first[outcome == 2]), 0.5 * w[outcome == 2])
    return out


def bradley_terry(comparisons: np.ndarray) -> tuple[np.ndarray, bool]:
    """Log-strengths (mean 0) from a comparison matrix; True when regularised (no ML estimate exists)."""
    k = len(comparisons)
    if comparisons.sum() == 0:
        return np.zeros(k), False
    strongly, _ = connected_components(comparisons > 0, directed=True, connection="strong")
    regularise = strongly > 1
    params = choix.ilsr_pairwise_dense(comparisons, alpha=REGULARISATION if regularise else 0.0, max_iter=1000)
    return params - params.mean(), bool(regularise)


@with_session
def preference_results(session: Session, *, study_id: int, resamples: int = DEFAULT_RESAMPLES,
                       seed: int = 0) -> PreferenceResults:
    study = _study(session, study_id)
    if study.kind != StudyKind.preference.value:
        raise StudyError(f"the study {study.name!r} asks for ratings, not preferences")
    systems = list(study.systems)
    index = {s: i for i, s in enumerate(systems)}
    item_system = {i.id: index[i.system] for i in queries.study_items(session, study_id=study.id)}  # type: ignore[arg-type]
    rows = [{"clip_id": a.clip_id, "first": item_system[a.first_item_id], "second": item_system[a.second_item_id],
             "first_item_id": a.first_item_id, "second_item_id": a.second_item_id, "rater_id": a.rater_id,
             "repeat": a.repeat, "outcome": outcome_of(a)} for a in queries.study_answers(session, study_id=study.id)]  # type: ignore[arg-type]
    answers = pd.DataFrame(rows, columns=["clip_id", "first", "second", "first_item_id", "second_item_id",
                                          "rater_id", "repeat", "outcome"])
    once = answers[answers["repeat"] == 0]
    k = len(systems)
    first, second = once["first"].to_numpy(int), once["second"].to_numpy(int)
    outcome = once["outcome"].map({o: i for i, o in enumerate(OUTCOMES)}).to_numpy(int)
    comparisons = comparison_matrix(first, second, outcome, k)
    strength, regularised = bradley_terry(comparisons)
    low = high = np.full(k, np.nan)
    if len(once):
        clips = sorted(set(once["clip_id"]))
        clip_of = np.searchsorted(clips, once["clip_id"].to_numpy())
        replicates = []
        for chunk in resample_weights(len(clips), resamples, seed):
            for weights in chunk:
                fitted, _ = bradley_terry(comparison_matrix(first, second, outcome, k, weights[clip_of]))
                replicates.append(fitted)
        low, high, _ = percentile_interval(np.asarray(replicates), 0.95)
    wins = np.asarray([((once["first"] == i) & (once["outcome"] == "first")).sum()
                       + ((once["second"] == i) & (once["outcome"] == "second")).sum() for i in range(k)])
    ties = np.asarray([((once[["first", "second"]] == i).any(axis=1) & (once["outcome"] == "same")).sum()
                       for i in range(k)])
    total = np.asarray([(once[["first", "second"]] == i).any(axis=1).sum() for i in range(k)])
    with np.errstate(invalid="ignore", divide="ignore"):
        win_rate = (wins + 0.5 * ties) / total
    strengths = pd.DataFrame({"system": systems, "strength": strength, "ci_low": low, "ci_high": high,
                              "wins": wins, "losses": total - wins - ties, "ties": ties, "comparisons": total,
                              "win_rate": win_rate})

    agreement, note = None, ""
    if len(once):
        wide = once.assign(unit=once["first_item_id"].astype(str) + "-" + once["second_item_id"].astype(str),
                           code=outcome).pivot_table(index="rater_id", columns="unit", values="code", aggfunc="first")
        try:
            agreement = agreement_estimate(wide.to_numpy(dtype=np.float64), coefficient="alpha",
                                           domain=list(range(len(OUTCOMES))), level="nominal",
                                           resamples=resamples, seed=seed)
        except ValueError as error:
            note = str(error)
        if agreement is not None and not np.isfinite(agreement.value):
            agreement, note = None, "every answer is the same: agreement is undefined (nothing varies)"
    else:
        note = "no answers yet"
    return PreferenceResults(strengths, agreement, note, _swap_consistency(answers), answers, regularised)


def _swap_consistency(answers: pd.DataFrame) -> pd.DataFrame:
    keys = ["rater_id", "first_item_id", "second_item_id"]
    paired = answers[answers["repeat"] == 0].merge(answers[answers["repeat"] == 1], on=keys, suffixes=("", "_again"))
    rows = []
    for rater, part in paired.groupby("rater_id"):
        same = int((part["outcome"] == part["outcome_again"]).sum())
        rows.append({"rater_id": int(rater), "repeats": len(part), "consistent": same, "share": same / len(part)})
    return pd.DataFrame(rows, columns=["rater_id", "repeats", "consistent", "share"])


# --- exports -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairVerdict:
    name: str  # the clip's name (with __<n> when a clip has several pairs)
    first_text: str
    second_text: str
    preference: str  # a1 | a2 | same: the majority of first showings; a1/a2 tied counts as same
    votes: dict[str, int]
    transcript: str
    language: str | None


@with_session
def pair_verdicts(session: Session, *, user: User, study_id: int) -> list[PairVerdict]:
    """Every answered pair with the raters' majority, in canonical order (a1 = the study's earlier system)."""
    require(user, Role.researcher, Role.lead, action="exporting study answers")
    study = _study(session, study_id)
    results = preference_results(session, study_id=study_id, resamples=1)
    items = {i.id: i for i in queries.study_items(session, study_id=study.id)}  # type: ignore[arg-type]
    once = results.answers[results.answers["repeat"] == 0]
    per_clip = once.groupby("clip_id")[["first_item_id", "second_item_id"]].apply(
        lambda f: sorted(set(zip(f["first_item_id"], f["second_item_id"], strict=True))))
    out = []
    for (a, b), part in once.groupby(["first_item_id", "second_item_id"], sort=True):
        clip = clip_queries.get_clip(session, clip_id=items[a].clip_id)
        votes = {o: int((part["outcome"] == o).sum()) for o in OUTCOMES}
        preference = ("a1" if votes["first"] > max(votes["second"], votes["same"]) else
                      "a2" if votes["second"] > max(votes["first"], votes["same"]) else "same")
        pairs_here = per_clip[items[a].clip_id]
        name = clip.name if len(pairs_here) == 1 else f"{clip.name}__{pairs_here.index((a, b)) + 1}"
        out.append(PairVerdict(name=name, first_text=items[a].text, second_text=items[b].text,
                               preference=preference, votes={"a1": votes["first"], "a2": votes["second"],
                                                             "same": votes["same"]},
                               transcript=clip.transcript or "", language=clip.language))
    return out


def mer_prefer_csv(verdicts: list[PairVerdict]) -> str:
    """MER-Prefer `name,a1,a2,preference` (preference: a1, a2 or same)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["name", "a1", "a2", "preference"])
    for v in verdicts:
        writer.writerow([v.name, v.first_text, v.second_text, v.preference])
    return buffer.getvalue()


def dpo_jsonl(verdicts: list[PairVerdict]) -> str:
    """DPO triples, one JSON object a line: prompt (the video token and the instruction with the subtitle),
    chosen, rejected; pairs judged "same" carry no preference and are left out."""
    import json

    lines = []
    for v in verdicts:
        if v.preference == "same":
            continue
        chosen, rejected = (v.first_text, v.second_text) if v.preference == "a1" else (v.second_text, v.first_text)
        lines.append(json.dumps({"name": v.name, "prompt": f"{VIDEO_TOKEN}\n{prompt_for(v.transcript, v.language)}",
                                 "chosen": chosen, "rejected": rejected, "votes": v.votes}, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")
