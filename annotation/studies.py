"""Blind human evaluation of systems' reasoning (EMER-style studies).

A researcher picks K systems (source names such as `consensus`, `model:3`,
`reference:emer-gt`) and M clips that every system covers. Raters see each
clip's K outputs labelled only "Output A, B, …", in an order shuffled per rater
and walked through a Williams Latin square per clip, so each system sits in
each position equally often and follows every other system equally often. Results are per-system means with bootstrap intervals over clips,
Krippendorff's ordinal α between raters, and Friedman / Wilcoxon tests.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats
from sqlmodel import Session
from statsmodels.stats.multitest import multipletests

from annotation.agreement import Estimate, agreement_estimate
from annotation.agreement.bootstrap import bootstrap_replicates, percentile_interval
from annotation.evaluation.aspects import merge_aspects
from annotation.formats.common import ExportRow
from annotation.formats.export_service import SourceRef, gather_rows
from annotation.permissions import PermissionDenied, has_role, require
from core.vocabulary import REASONING_RATINGS, Role, StudyKind, StudyStatus
from db.engine import unit_of_work, with_session
from db.models import Clip, Study, StudyItem, User
from db.queries import audit
from db.queries import clips as clip_queries
from db.queries import studies as queries
from db.queries import users as user_queries
from db.queries.references import clip_ids_by_name

RATER_ROLES = (Role.annotator, Role.researcher, Role.lead)
STATUSES = tuple(status.value for status in StudyStatus)
STUDY_KINDS = tuple(kind.value for kind in StudyKind)
DEFAULT_REPEAT_SHARE = 0.2  # of a preference study's pairs, shown again with sides swapped
MAX_SYSTEMS = len(string.ascii_uppercase)
NAME_LENGTH = 128  # Study.name
SYSTEM_LENGTH = 64  # StudyItem.system


class StudyError(ValueError):
    """A study request that cannot be carried out; the message says why."""


# --- building a study ----------------------------------------------------------------------------


def _check_system(name: str) -> str:
    try:
        ref = SourceRef.parse(name)
    except ValueError as exc:
        raise StudyError(str(exc)) from None
    if ref.kind == "annotations" or (ref.key or "").endswith("*"):
        raise StudyError(f"{name!r} holds several people's work per clip; pick one system "
                         "(consensus, a model version or one named reference)")
    if len(str(ref)) > SYSTEM_LENGTH:
        raise StudyError(f"the system name {name!r} is longer than {SYSTEM_LENGTH} characters")
    return str(ref)


def output_text(row: ExportRow) -> str:
    """The reasoning a rater reads: the system's own paragraph, else one written from its clues."""
    if row.reasoning.strip():
        return row.reasoning.strip()
    if any((v or "").strip() for v in row.clues.values()):
        return merge_aspects(row.clues, emotion=row.emotion, language=row.language)
    return ""


@with_session
def system_outputs(session: Session, *, dataset_id: int, systems: list[str],
                   on_system: Callable[[str], None] | None = None) -> dict[str, dict[str, ExportRow]]:
    """Each system's outputs on the dataset by clip name (clips where it has no text left out)."""
    outputs: dict[str, dict[str, ExportRow]] = {}
    for system in systems:
        rows = gather_rows(session, dataset_id=dataset_id, source=_check_system(system))  # type: ignore[arg-type]
        outputs[system] = {row.name: row for row in rows if output_text(row)}
        if on_system is not None:
            on_system(system)
    return outputs


@unit_of_work
def create_study(session: Session, *, user: User, dataset_id: int, name: str, systems: list[str], clip_count: int,
                 seed: int, description: str = "", raters: list[int] | None = None,
                 kind: str = StudyKind.rating.value, repeat_share: float = DEFAULT_REPEAT_SHARE,
                 outputs: dict[str, dict[str, ExportRow]] | None = None) -> Study:
    """A draft study of `systems` on `clip_count` clips (drawn with `seed`) that every system covers.

    `kind` "rating" asks for a 1-4 rating of each output; "preference" shows two outputs at a time
    (every pair of systems per clip) for A, B or same, and brings back `repeat_share` of the pairs
    later with sides swapped (`annotation.preference`). `outputs` are `system_outputs` read beforehand
    (the creation job reads them outside this write, with progress)."""
    require(user, Role.researcher, Role.lead, action="creating evaluation studies")
    name = name.strip()
    if not name:
        raise StudyError("a study needs a name")
    if len(name) > NAME_LENGTH:
        raise StudyError(f"a study name has at most {NAME_LENGTH} characters")
    dataset = clip_queries.get_dataset(session, dataset_id=dataset_id)
    if dataset is None:
        raise StudyError(f"no dataset {dataset_id}")
    systems = [_check_system(s) for s in systems]
    if len(set(systems)) != len(systems):
        raise StudyError("each system may appear only once in a study")
    if len(systems) < 2:
        raise StudyError("a study compares at least 2 systems")
    if len(systems) > MAX_SYSTEMS:
        raise StudyError(f"a study compares at most {MAX_SYSTEMS} systems")
    if clip_count < 1:
        raise StudyError("a study needs at least 1 clip")
    if kind not in STUDY_KINDS:
        raise StudyError(f"a study's kind is one of {STUDY_KINDS}")
    if not 0 <= repeat_share <= 1:
        raise StudyError("the share of repeated pairs lies between 0 and 1")
    invited = sorted(set(raters or []))
    unknown = sorted(set(invited) - {u.id for u in eligible_raters(session)})
    if unknown:
        raise StudyError(f"users {unknown} cannot rate: raters are active annotators, researchers or leads")

    if outputs is None or set(outputs) != set(systems):
        outputs = system_outputs(session, dataset_id=dataset.id, systems=systems)
    covered = sorted(set.intersection(*(set(by_name) for by_name in outputs.values())))
    if len(covered) < clip_count:
        per_system = ", ".join(f"{s}: {len(outputs[s])}" for s in systems)
        raise StudyError(f"only {len(covered)} clips have an output from every system ({per_system}); "
                         f"ask for at most {len(covered)}")
    rng = random.Random(seed)
    chosen = sorted(rng.sample(covered, clip_count))
    clip_ids = clip_ids_by_name(session, dataset_id=dataset.id, names=chosen)

    items = []
    # Items are inserted in a shuffled order so that their ids say nothing about which system is which.
    cells = [(clip_name, position) for clip_name in chosen for position in range(len(systems))]
    rng.shuffle(cells)
    for clip_name, position in cells:
        system = systems[position]
        row = outputs[system][clip_name]
        items.append(StudyItem(study_id=0, clip_id=clip_ids[clip_name], system=system, emotion=row.emotion,
                               clues={k: v for k, v in row.clues.items() if v}, text=output_text(row),
                               position=position))
    settings = {"seed": int(seed), "clip_count": clip_count, "raters": invited}
    if kind == StudyKind.preference.value:
        settings["repeat_share"] = float(repeat_share)
    study = Study(name=name, description=description.strip(), dataset_id=dataset.id, created_by_id=user.id,
                  systems=systems, settings=settings, kind=kind)
    study = queries.add_study(session, study=study, items=items)
    audit.record(session, user=user, action="create_study", entity="study", entity_id=study.id,
                 detail={"name": name, "kind": kind, "dataset_id": dataset.id, "systems": systems,
                         "clip_count": clip_count, "raters": invited})
    return study


@unit_of_work
def set_study_status(session: Session, *, user: User, study_id: int, status: str) -> Study:
    """Open a study to raters or close it (its owner or a lead)."""
    if status not in STATUSES:
        raise StudyError(f"status must be one of {STATUSES}")
    study = _study(session, study_id)
    if user is None or study.created_by_id != user.id:
        require(user, Role.lead, action="opening or closing another person's study")
    else:
        require(user, Role.researcher, Role.lead, action="opening or closing studies")
    before = study.status
    study = queries.set_status(session, study=study, status=status)
    audit.record(session, user=user, action="set_study_status", entity="study", entity_id=study.id,
                 detail={"status": status, "before": before})
    return study


def _study(session: Session, study_id: int) -> Study:
    study = queries.get_study(session, study_id=study_id)
    if study is None:
        raise StudyError(f"no study {study_id}")
    return study


# --- raters and blind presentation ---------------------------------------------------------------


def may_rate(user: User | None, study: Study) -> bool:
    invited = (study.settings or {}).get("raters") or []
    if not has_role(user, *RATER_ROLES):
        return False
    return not invited or user.id in invited  # type: ignore[union-attr]


def raters_of(session: Session, *, study: Study) -> list[User]:
    invited = set((study.settings or {}).get("raters") or [])
    people = eligible_raters(session)
    return [u for u in people if u.id in invited] if invited else people


@with_session
def eligible_raters(session: Session) -> list[User]:
    """Everyone who may be invited to rate: annotators, researchers and leads."""
    return user_queries.users_with_roles(session, roles=[r.value for r in RATER_ROLES])


def _require_rater(user: User, study: Study) -> None:
    if not may_rate(user, study):
        who = user.username if user else "nobody"
        raise PermissionDenied(f"{who} is not a rater of the study {study.name!r}")
    if study.status != "open":
        raise StudyError(f"the study {study.name!r} is {study.status}, not open for rating")


def clip_order(study: Study, rater_id: int, clip_ids: list[int]) -> list[int]:
    """The rater's own shuffled order of the study's clips."""
    order = sorted(clip_ids)
    random.Random(f"{study.settings.get('seed', 0)}:{study.id}:{rater_id}:clips").shuffle(order)
    return order


def williams_rows(k: int) -> list[list[int]]:
    """A Williams design: rows of a Latin square (two for odd k) where each symbol also
    follows every other symbol equally often, so no output is always read after the same one."""
    first, low, high = [0], 1, k - 1
    while len(first) < k:
        first.append(low)
        low += 1
        if len(first) < k:
            first.append(high)
            high -= 1
    rows = [[(x + shift) % k for x in first] for shift in range(k)]
    return rows if k % 2 == 0 else rows + [row[::-1] for row in rows]


def system_order(study: Study, rater_id: int, clip_rank: int) -> list[int]:
    """System indices by display position for the rater's `clip_rank`-th clip.

    The rater's clips walk through the rows of a Williams design, relabelled by a
    per-rater random permutation of the systems: in every block of K clips each
    system takes each position exactly once, and raters get different orders.
    """
    k = len(study.systems)
    relabel = list(range(k))
    random.Random(f"{study.settings.get('seed', 0)}:{study.id}:{rater_id}:systems").shuffle(relabel)
    rows = williams_rows(k)
    return [relabel[x] for x in rows[clip_rank % len(rows)]]


@dataclass(frozen=True)
class BlindOutput:
    """One system's output as a rater sees it: a letter, never the system's name."""

    label: str
    item_id: int
    emotion: str | None
    clues: dict[str, str]
    text: str
    rating: int | None = None
    comment: str = ""


@dataclass(frozen=True)
class BlindClip:
    study_id: int
    clip_id: int
    outputs: list[BlindOutput]
    clips_done: int
    clips_total: int
    rank: int = 0
    finished: bool = False


def blind_clip(session: Session, *, user: User, study_id: int, clip_id: int | None = None,
               rank: int | None = None) -> BlindClip | None:
    """The next clip this rater has not fully rated (or `clip_id`, or the clip at position `rank` of the
    rater's order), with its outputs in blind order.

    None when the rater has rated everything and no clip was asked for, or `rank` is past the last clip.
    """
    study = _study(session, study_id)
    _require_rater(user, study)
    items = queries.study_items(session, study_id=study.id)  # type: ignore[arg-type]
    by_clip: dict[int, dict[str, StudyItem]] = {}
    for item in items:
        by_clip.setdefault(item.clip_id, {})[item.system] = item
    mine = queries.ratings_by_rater(session, study_id=study.id, rater_id=user.id)  # type: ignore[arg-type]
    order = clip_order(study, user.id, list(by_clip))  # type: ignore[arg-type]
    done = [all(i.id in mine for i in by_clip[c].values()) for c in order]
    if rank is not None:
        if rank < 0:
            raise StudyError("there is no clip before the first one")
        if rank >= len(order):
            return None
    elif clip_id is None:
        rank = next((r for r, finished in enumerate(done) if not finished), None)
        if rank is None:
            return None
    elif clip_id in by_clip:
        rank = order.index(clip_id)
    else:
        raise StudyError(f"clip {clip_id} is not part of the study {study.name!r}")
    clip = order[rank]
    outputs = []
    for position, index in enumerate(system_order(study, user.id, rank)):  # type: ignore[arg-type]
        item = by_clip[clip][study.systems[index]]
        own = mine.get(item.id)  # type: ignore[arg-type]
        outputs.append(BlindOutput(label=f"Output {string.ascii_uppercase[position]}", item_id=item.id,
                                   emotion=item.emotion, clues=dict(item.clues), text=item.text,
                                   rating=own.rating if own else None, comment=own.comment if own else ""))
    return BlindClip(study_id=study.id, clip_id=clip, outputs=outputs, clips_done=sum(done),  # type: ignore[arg-type]
                     clips_total=len(order), rank=rank, finished=done[rank])


@with_session
def next_items_for(session: Session, *, user: User, study_id: int) -> BlindClip | None:
    """The rater's next unfinished clip with its K blind outputs; None when all are rated."""
    return blind_clip(session, user=user, study_id=study_id)


@with_session
def items_at(session: Session, *, user: User, study_id: int, rank: int) -> BlindClip | None:
    """The rater's clip at position `rank` of their order (0 is the first), with their own ratings: going
    back to an earlier clip. None past the last clip."""
    return blind_clip(session, user=user, study_id=study_id, rank=rank)


@with_session
def studies_to_rate(session: Session, *, user: User) -> list[Study]:
    return [s for s in queries.list_studies(session, status=StudyStatus.open.value) if may_rate(user, s)]


@with_session
def clip_for(session: Session, *, clip_id: int) -> Clip | None:
    return clip_queries.get_clip(session, clip_id=clip_id)


@unit_of_work
def rate(session: Session, *, user: User, item_id: int, rating: int, comment: str = "") -> None:
    """Save (or change) this rater's own 1–4 rating of one output."""
    item = queries.get_item(session, item_id=item_id)
    if item is None:
        raise StudyError(f"no study output {item_id}")
    study = _study(session, item.study_id)
    _require_rater(user, study)
    if study.kind != StudyKind.rating.value:
        raise StudyError(f"the study {study.name!r} asks for preferences, not ratings")
    if isinstance(rating, bool) or rating not in REASONING_RATINGS:
        raise StudyError(f"a rating is one of {sorted(REASONING_RATINGS)} "
                         f"({', '.join(f'{k} {v}' for k, v in REASONING_RATINGS.items())})")
    queries.save_rating(session, item_id=item_id, rater_id=user.id, rating=int(rating),  # type: ignore[arg-type]
                        comment=(comment or "").strip())
    audit.record(session, user=user, action="rate_study", entity="studyitem", entity_id=item_id,
                 detail={"study_id": study.id, "rating": int(rating)})


# --- progress and results ------------------------------------------------------------------------


@dataclass(frozen=True)
class StudyProgress:
    study: Study
    items: int
    ratings: int
    expected: int


def repeat_count(n_pairs: int, share: float) -> int:
    """How many of a rater's pairs come back swapped: the share, rounded, and at least one when asked for."""
    if n_pairs < 1 or share <= 0:
        return 0
    return min(n_pairs, max(1, round(share * n_pairs)))


def showings_per_rater(study: Study, n_items: int) -> int:
    """What one rater answers: a rating per output, or each pair once plus the swapped repeats."""
    if study.kind != StudyKind.preference.value:
        return n_items
    k = len(study.systems)
    pairs = (n_items // k) * k * (k - 1) // 2 if k else 0
    return pairs + repeat_count(pairs, float((study.settings or {}).get("repeat_share", DEFAULT_REPEAT_SHARE)))


@with_session
def studies_with_progress(session: Session) -> list[StudyProgress]:
    """Every study with answers done and expected (what one rater answers × raters)."""
    items, ratings = queries.item_counts(session), queries.rating_counts(session)
    answers = queries.answer_counts(session)
    out = []
    for study in queries.list_studies(session):
        n_items = items.get(study.id, 0)  # type: ignore[arg-type]
        done = (answers if study.kind == StudyKind.preference.value else ratings).get(study.id, 0)  # type: ignore[arg-type]
        out.append(StudyProgress(study, n_items, done,
                                 showings_per_rater(study, n_items) * len(raters_of(session, study=study))))
    return out


@dataclass(frozen=True)
class StudyResults:
    systems: pd.DataFrame     # system, mean, ci_low, ci_high, n_ratings, n_clips, share_3_4
    agreement: Estimate | None
    agreement_note: str
    friedman: dict | None      # statistic, p, n_clips; None with fewer than 3 systems
    pairwise: pd.DataFrame     # a, b, n_clips, statistic, p, p_holm, significant
    clip_means: pd.DataFrame   # clips × systems, mean rating per clip (the matrix the tests use)
    by_position: pd.DataFrame  # position (Output A, B, …), mean, n_ratings: a check on order effects
    comments: pd.DataFrame     # clip_id, system, rating, comment for every rating with a comment


def display_positions(study: Study, ratings: pd.DataFrame, clips: list[int]) -> list[int]:
    """Where each rated output was shown to its rater (0 = Output A), recomputed from the blind order."""
    index = {system: i for i, system in enumerate(study.systems)}
    ranks: dict[int, dict[int, int]] = {}
    positions = []
    for rater, clip, system in zip(ratings["rater_id"], ratings["clip_id"], ratings["system"], strict=False):
        if rater not in ranks:
            ranks[rater] = {c: r for r, c in enumerate(clip_order(study, rater, clips))}
        positions.append(system_order(study, rater, ranks[rater][clip]).index(index[system]))
    return positions


def _clip_sums(ratings: pd.DataFrame, clips: list[int], systems: list[str]) -> np.ndarray:
    """Per-clip contributions (N, 2K): rating sum and count for each system, in `systems` order."""
    sums = ratings.pivot_table(index="clip_id", columns="system", values="rating", aggfunc="sum")
    counts = ratings.pivot_table(index="clip_id", columns="system", values="rating", aggfunc="count")
    sums = sums.reindex(index=clips, columns=systems).fillna(0).to_numpy()
    counts = counts.reindex(index=clips, columns=systems).fillna(0).to_numpy()
    return np.stack([sums, counts], axis=2).reshape(len(clips), 2 * len(systems))


def _means(totals: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return totals[..., 0::2] / totals[..., 1::2]


def _pairwise(matrix: pd.DataFrame, alpha: float) -> pd.DataFrame:
    rows = []
    for a, b in combinations(matrix.columns, 2):
        pair = matrix[[a, b]].dropna()
        diff = (pair[a] - pair[b]).to_numpy()
        if len(pair) == 0 or not np.any(diff):
            statistic, p = float("nan"), 1.0  # no clip or no difference at all: no evidence either way
        else:
            test = stats.wilcoxon(pair[a], pair[b])
            statistic, p = float(test.statistic), float(test.pvalue)
        rows.append({"a": a, "b": b, "n_clips": len(pair), "mean_difference": float(diff.mean()) if len(diff) else
                     float("nan"), "statistic": statistic, "p": p})
    table = pd.DataFrame(rows, columns=["a", "b", "n_clips", "mean_difference", "statistic", "p"])
    if len(table):
        reject, corrected, _, _ = multipletests(table["p"].to_numpy(), alpha=alpha, method="holm")
        table["p_holm"], table["significant"] = corrected, reject
    else:
        table["p_holm"], table["significant"] = [], []
    return table


@with_session
def results(session: Session, *, study_id: int, resamples: int = 2000, seed: int = 0,
            alpha: float = 0.05) -> StudyResults:
    """Per-system means with percentile bootstrap CIs over clips, rater agreement and significance tests.

    Bootstrap: clips are resampled with replacement (the same draws for every
    system, `annotation.agreement.bootstrap.resample_weights` with `seed`); each
    replicate is the mean of all ratings on the drawn clips.
    """
    study = _study(session, study_id)
    systems = list(study.systems)
    items = queries.study_items(session, study_id=study.id)  # type: ignore[arg-type]
    clips = sorted({i.clip_id for i in items})
    rated = [{"item_id": item.id, "clip_id": item.clip_id, "system": item.system, "rater_id": r.rater_id,
              "rating": r.rating, "comment": r.comment}
             for r, item in queries.study_ratings(session, study_id=study.id)]  # type: ignore[arg-type]
    ratings = pd.DataFrame(rated, columns=["item_id", "clip_id", "system", "rater_id", "rating", "comment"])

    contributions = _clip_sums(ratings, clips, systems) if clips else np.zeros((0, 2 * len(systems)))
    means = _means(contributions.sum(axis=0))
    if len(ratings):
        low, high, _ = percentile_interval(
            bootstrap_replicates(contributions, _means, resamples=resamples, seed=seed), 0.95)
    else:
        low = high = np.full(len(systems), np.nan)
    grouped = ratings.groupby("system")["rating"]
    table = pd.DataFrame({
        "system": systems, "mean": means, "ci_low": low, "ci_high": high,
        "n_ratings": [int(grouped.size().get(s, 0)) for s in systems],
        "n_clips": [int(ratings.loc[ratings["system"] == s, "clip_id"].nunique()) for s in systems],
        "share_3_4": [float((ratings.loc[ratings["system"] == s, "rating"] >= 3).mean())
                      if (ratings["system"] == s).any() else float("nan") for s in systems],
    })

    agreement, note = None, ""
    if len(ratings):
        wide = ratings.pivot_table(index="rater_id", columns="item_id", values="rating", aggfunc="first")
        try:
            agreement = agreement_estimate(wide.to_numpy(dtype=np.float64), coefficient="alpha",
                                           domain=sorted(REASONING_RATINGS), level="ordinal",
                                           resamples=resamples, seed=seed)
        except ValueError as exc:
            note = str(exc)
        if agreement is not None and not np.isfinite(agreement.value):
            agreement, note = None, "every rating has the same value: agreement is undefined (nothing varies)"
    else:
        note = "no ratings yet"

    matrix = (ratings.pivot_table(index="clip_id", columns="system", values="rating", aggfunc="mean")
              .reindex(columns=systems) if len(ratings) else pd.DataFrame(columns=systems, dtype=float))
    complete = matrix.dropna()
    friedman = None
    if len(systems) >= 3 and len(complete) >= 2:
        if (complete.nunique(axis=1) == 1).all():
            # Every clip rated the same for all systems: the statistic is 0/0, and there is no evidence.
            friedman = {"statistic": float("nan"), "p": 1.0, "n_clips": len(complete)}
        else:
            test = stats.friedmanchisquare(*(complete[s].to_numpy() for s in systems))
            friedman = {"statistic": float(test.statistic), "p": float(test.pvalue), "n_clips": len(complete)}
    positions = ratings.assign(position=display_positions(study, ratings, clips)).groupby("position")["rating"]
    by_position = pd.DataFrame({
        "position": [f"Output {string.ascii_uppercase[p]}" for p in range(len(systems))],
        "mean": [float(positions.mean().get(p, np.nan)) for p in range(len(systems))],
        "n_ratings": [int(positions.size().get(p, 0)) for p in range(len(systems))]})
    comments = ratings.loc[ratings["comment"] != "", ["clip_id", "system", "rating", "comment"]].reset_index(drop=True)
    return StudyResults(table, agreement, note, friedman, _pairwise(matrix, alpha), matrix, by_position, comments)
