"""The agreement dashboard's data: every table a lead reads, as pandas DataFrames.

Built from finished annotations of one dataset (optionally a submission window
and some annotators), the current consensus and the latest model predictions.
A figure that cannot be computed on the selection (say, no clip with two
ratings) is left out and its reason listed in `notes`, never shown as NaN.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from sqlmodel import Session

from annotation.agreement import (
    Estimate,
    agreement_estimate,
    cohen_kappa_matrix,
    encode,
    mean_pairwise_cohen_estimate,
    positive_agreement_estimates,
)
from annotation.agreement.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, estimate
from annotation.agreement.clues import ClueText, edit_effort, semantic_agreement
from annotation.labelling.adjudication import vote_label
from annotation.labelling.consensus import Vote, dawid_skene
from annotation.refreshing import RefreshingCache
from core.vocabulary import ASPECTS, REASONING_RATINGS, AnnotationStatus
from db.engine import get_engine, session_scope, with_session
from db.models import Annotation
from db.queries import clips as clip_queries
from db.queries import consensus as queries
from db.queries import predictions as prediction_queries
from db.queries import users as user_queries

Embed = Callable[[Sequence[str]], np.ndarray]
RATING_DOMAIN = sorted(REASONING_RATINGS)
DEFAULT_MAX_CLUE_CLIPS = 2000


@dataclass
class AgreementReport:
    figures: pd.DataFrame  # one row per figure: scope, metric, value, ci_low, ci_high, n_clips, n_raters
    per_label: pd.DataFrame  # specific agreement per emotion label
    pairwise: pd.DataFrame  # long: scope, rater_a, rater_b, kappa, n_clips
    annotators: pd.DataFrame  # one row per annotator
    drift: pd.DataFrame  # annotator x week: agreement with consensus
    confusion: pd.DataFrame  # long: annotator_label, consensus_label, count
    ratings: pd.DataFrame  # long: annotator, rating, count
    clues: pd.DataFrame  # per aspect: semantic agreement vs chance, edit effort
    model: pd.DataFrame  # model vs consensus figures
    notes: list[str] = field(default_factory=list)
    n_annotations: int = 0


@with_session
def dataset_annotators(session: Session, *, dataset_id: int) -> dict[int, str]:
    """Everyone with a finished annotation in the dataset: user id -> display name."""
    ids = queries.dataset_annotator_ids(session, dataset_id=dataset_id)
    users = user_queries.users_by_id(session, user_ids=ids)
    return {uid: (u.display_name or u.username) for uid, u in sorted(users.items())}


# The dashboard at 100k clips takes minutes to build: each server process builds it once per selection and
# then serves it while a background thread rebuilds it when it is older than this and its data changed.
REPORT_MAX_AGE = 120.0


def _report_for(dataset_id: int, since: datetime | None, until: datetime | None, user_ids: tuple[int, ...],
                resamples: int, seed: int) -> AgreementReport:
    return build_report(dataset_id=dataset_id, since=since, until=until, user_ids=list(user_ids) or None,
                        resamples=resamples, seed=seed)


def _data_version(dataset_id: int, *_selection) -> tuple:
    with session_scope() as session:
        return queries.data_version(session, dataset_id=dataset_id)


# Keyed by the data version: an old report is rebuilt only when a submission, skip or decision came since.
_reports: RefreshingCache[AgreementReport] = RefreshingCache(_report_for, max_age=REPORT_MAX_AGE,
                                                             name="agreement-report", max_entries=16,
                                                             version=_data_version)


def cached_report(*, dataset_id: int, since: datetime | None = None, until: datetime | None = None,
                  user_ids: Sequence[int] = (), resamples: int = DEFAULT_RESAMPLES,
                  seed: int = DEFAULT_SEED) -> AgreementReport:
    """`build_report` for the page: the first request waits, later ones get the last build at once."""
    key = (get_engine().url.render_as_string(hide_password=True), dataset_id, since, until,
           tuple(sorted(user_ids)), resamples, seed)
    return _reports.get(key, dataset_id, since, until, tuple(sorted(user_ids)), resamples, seed)


def _row(scope: str, metric: str, est: Estimate, **extra) -> dict:
    return {"scope": scope, "metric": metric, **est.as_dict(), **extra}


def _try(notes: list[str], what: str, compute: Callable[[], object]):
    try:
        return compute()
    except ValueError as error:
        notes.append(f"{what}: {error}")
        return None


# (scope, metric, how): every chance-corrected figure on the dashboard, computed the same way.
_FIGURES: list[tuple[str, str, dict]] = [
    ("emotion", "Krippendorff's α (nominal)", {"coefficient": "alpha", "level": "nominal"}),
    ("emotion", "Fleiss' κ", {"coefficient": "fleiss_kappa"}),
    ("emotion", "Gwet's AC1", {"coefficient": "gwet_ac", "weights": "identity"}),
    ("emotion", "mean pairwise Cohen's κ", {"pairwise": "identity"}),
    ("rating", "Krippendorff's α (ordinal)", {"coefficient": "alpha", "level": "ordinal"}),
    ("rating", "Gwet's AC2 (quadratic)", {"coefficient": "gwet_ac", "weights": "quadratic"}),
    ("rating", "mean pairwise quadratic-weighted κ", {"pairwise": "quadratic"}),
]


@dataclass
class _Matrices:
    """Rater-by-clip codes (R, N) for the emotion (index into `labels`) and the 1-4 rating."""

    raters: list[int]
    labels: list[str]
    emotions: np.ndarray
    ratings: np.ndarray

    def data(self, scope: str) -> tuple[np.ndarray, np.ndarray]:
        if scope == "emotion":
            return self.emotions, np.arange(len(self.labels), dtype=np.float64)
        return self.ratings, np.asarray(RATING_DOMAIN, dtype=np.float64)


def _matrices(submitted: list[Annotation], label_set: Sequence[str]) -> _Matrices:
    raters = sorted({a.user_id for a in submitted})
    clips = sorted({a.clip_id for a in submitted})
    rater_index = {u: i for i, u in enumerate(raters)}
    clip_index = {c: i for i, c in enumerate(clips)}
    voted = {label for a in submitted if (label := vote_label(a))}
    labels = list(label_set) + sorted(voted - set(label_set))
    table = [[None] * len(clips) for _ in raters]
    ratings = np.full((len(raters), len(clips)), np.nan)
    for a in submitted:
        table[rater_index[a.user_id]][clip_index[a.clip_id]] = vote_label(a)
        if a.rating is not None:
            ratings[rater_index[a.user_id], clip_index[a.clip_id]] = a.rating
    return _Matrices(raters, labels, encode(table, labels).reshape(len(raters), len(clips)), ratings)


def _coefficient_rows(m: _Matrices, notes: list[str], boot: dict) -> list[dict]:
    rows = []
    for scope, metric, how in _FIGURES:
        data, domain = m.data(scope)
        if "pairwise" in how:
            compute = lambda data=data, domain=domain, how=how: mean_pairwise_cohen_estimate(  # noqa: E731
                data, domain, weights=how["pairwise"], **boot)
        else:
            compute = lambda data=data, domain=domain, how=how: agreement_estimate(  # noqa: E731
                data, domain=domain, **how, **boot)
        if est := _try(notes, f"{scope} {metric}", compute):
            rows.append(_row(scope, metric, est))
    return rows


def _per_label_rows(m: _Matrices, boot: dict) -> list[dict]:
    """Specific agreement per emotion label that someone used."""
    data, domain = m.data("emotion")
    if (~np.isnan(data)).sum(axis=0).max(initial=0) < 2:
        return []
    estimates = positive_agreement_estimates(data, domain, **boot)
    return [{"label": label, **est.as_dict()} for label, est in zip(m.labels, estimates, strict=False) if np.isfinite(est.value)]


def _pairwise_rows(m: _Matrices, name: dict[int, str]) -> list[dict]:
    rows = []
    for scope, weights in (("emotion", "identity"), ("rating", "quadratic")):
        data, domain = m.data(scope)
        kappa, shared = cohen_kappa_matrix(data, domain, weights=weights)
        for a, rater_a in enumerate(m.raters):
            for b, rater_b in enumerate(m.raters):
                if a != b and shared[a, b] > 0:
                    rows.append({"scope": scope, "rater_a": name[rater_a], "rater_b": name[rater_b],
                                 "kappa": float(kappa[a, b]), "n_clips": int(shared[a, b])})
    return rows


@with_session
def build_report(
    session: Session,
    *,
    dataset_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
    user_ids: Sequence[int] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    embed: Embed | None = None,
    max_clue_clips: int = DEFAULT_MAX_CLUE_CLIPS,
) -> AgreementReport:
    """All dashboard tables for one dataset; `max_clue_clips` caps the clips whose clues are embedded."""
    dataset = clip_queries.get_dataset(session, dataset_id=dataset_id)
    if dataset is None:
        raise LookupError(f"dataset {dataset_id} does not exist")
    rows = queries.dataset_annotations(session, dataset_id=dataset_id, since=since, until=until, user_ids=user_ids)
    users = user_queries.users_by_id(session, user_ids=[a.user_id for a in rows])
    name = {uid: (u.display_name or u.username) for uid, u in users.items()}
    submitted = [a for a in rows if a.status == AnnotationStatus.submitted.value]
    consensus = {c.clip_id: c for c in queries.dataset_consensus(session, dataset_id=dataset_id)}
    notes: list[str] = []
    boot = {"resamples": resamples, "seed": seed}

    figures, per_label, pairwise = [], [], []
    if submitted:
        matrices = _matrices(submitted, dataset.label_set)
        figures = _coefficient_rows(matrices, notes, boot)
        per_label = _per_label_rows(matrices, boot)
        pairwise = _pairwise_rows(matrices, name)

    quality: dict[int, float] = {}
    votes = [Vote(a.clip_id, a.user_id, label) for a in submitted if (label := vote_label(a))]
    # Dawid-Skene needs votes from several clips.
    if len({v.clip for v in votes}) >= 2 and (
            model := _try(notes, "Dawid-Skene", lambda: dawid_skene(votes, dataset.label_set))):
            quality = {u: q.accuracy for u, q in model.annotators.items()}

    annotators, drift, confusion, rating_rows = _per_annotator(rows, consensus, name, quality)
    return AgreementReport(
        figures=pd.DataFrame(figures, columns=_FIGURE_COLUMNS),
        per_label=pd.DataFrame(per_label, columns=["label", *_ESTIMATE_COLUMNS]),
        pairwise=pd.DataFrame(pairwise, columns=["scope", "rater_a", "rater_b", "kappa", "n_clips"]),
        annotators=annotators, drift=drift, confusion=confusion, ratings=rating_rows,
        clues=pd.DataFrame(_clue_rows(submitted, session, dataset_id, notes, embed, boot, max_clue_clips), columns=_CLUE_COLUMNS),
        model=pd.DataFrame(_model_rows(session, dataset_id, consensus, notes, embed, boot, max_clue_clips),
                           columns=_FIGURE_COLUMNS),
        notes=notes, n_annotations=len(rows),
    )


_ESTIMATE_COLUMNS = [
    "value", "ci_low", "ci_high", "n_clips", "n_raters", "resamples", "confidence", "undefined_resamples",
]
_FIGURE_COLUMNS = ["scope", "metric", *_ESTIMATE_COLUMNS]
_CLUE_COLUMNS = ["aspect", "raw", "raw_low", "raw_high", "chance", "corrected", "corrected_low", "corrected_high",
                 "n_clips", "n_raters", "effort", "effort_low", "effort_high", "effort_n_clips"]


def _per_annotator(rows: list[Annotation], consensus: dict, name: dict[int, str], quality: dict[int, float]):
    by_user: dict[int, list[Annotation]] = defaultdict(list)
    for a in rows:
        by_user[a.user_id].append(a)
    annotators, drift, confusion = [], [], defaultdict(int)
    rating_counts = defaultdict(int)
    for uid, items in sorted(by_user.items()):
        done = [a for a in items if a.status == AnnotationStatus.submitted.value]
        compared = [(vote_label(a), consensus[a.clip_id].emotion) for a in done
                    if a.clip_id in consensus and vote_label(a) and consensus[a.clip_id].emotion]
        for mine, agreed in compared:
            confusion[(mine, agreed)] += 1
        for a in done:
            if a.rating is not None:
                rating_counts[(name[uid], a.rating)] += 1
        seconds = [a.seconds_spent for a in done if a.seconds_spent]
        annotators.append({
            "annotator": name[uid], "user_id": uid, "submitted": len(done), "skipped": len(items) - len(done),
            "skip_rate": (len(items) - len(done)) / len(items),
            "median_seconds": float(np.median(seconds)) if seconds else None,
            "agreement_with_consensus": (sum(m == c for m, c in compared) / len(compared)) if compared else None,
            "compared_with_consensus": len(compared),
            "dawid_skene_accuracy": quality.get(uid),
        })
        weekly = defaultdict(list)
        for a in done:
            if a.clip_id in consensus and vote_label(a) and consensus[a.clip_id].emotion:
                when = pd.Timestamp(a.submitted_at or a.updated_at).tz_convert("UTC").tz_localize(None)
                weekly[when.to_period("W").start_time].append(vote_label(a) == consensus[a.clip_id].emotion)
        for week, hits in sorted(weekly.items()):
            drift.append({"annotator": name[uid], "week": week, "agreement_with_consensus": float(np.mean(hits)),
                          "n": len(hits)})
    return (
        pd.DataFrame(annotators, columns=["annotator", "user_id", "submitted", "skipped", "skip_rate", "median_seconds",
                                          "agreement_with_consensus", "compared_with_consensus", "dawid_skene_accuracy"]),
        pd.DataFrame(drift, columns=["annotator", "week", "agreement_with_consensus", "n"]),
        pd.DataFrame([{"annotator_label": m, "consensus_label": c, "count": n} for (m, c), n in sorted(confusion.items())],
                     columns=["annotator_label", "consensus_label", "count"]),
        pd.DataFrame([{"annotator": a, "rating": r, "count": n} for (a, r), n in sorted(rating_counts.items())],
                     columns=["annotator", "rating", "count"]),
    )


def _clue_rows(submitted: list[Annotation], session: Session, dataset_id: int, notes: list[str], embed, boot,
               max_clips: int) -> list[dict]:
    clip_ids = sorted({a.clip_id for a in submitted})
    if len(clip_ids) > max_clips:
        # Embedding every clue of a large dataset takes minutes; a seeded sample of clips estimates the same figure.
        keep = set(np.random.default_rng(boot["seed"]).choice(clip_ids, size=max_clips, replace=False).tolist())
        submitted = [a for a in submitted if a.clip_id in keep]
        notes.append(f"clue agreement and effort: estimated on a random sample of {max_clips:,} of {len(clip_ids):,} clips")
    predictions = prediction_queries.predictions_for_comparison(session, dataset_id=dataset_id, annotations=submitted)
    out = []
    for aspect in ASPECTS:
        clues = [ClueText(a.clip_id, a.user_id, (a.clues or {}).get(aspect.value, "")) for a in submitted]
        row: dict = {"aspect": aspect.value}
        semantic = _try(notes, f"{aspect.value} clue agreement", lambda c=clues: semantic_agreement(c, embed=embed, **boot))
        if semantic:
            row.update(raw=semantic.raw.value, raw_low=semantic.raw.ci_low, raw_high=semantic.raw.ci_high,
                       chance=semantic.chance, n_clips=semantic.raw.n_clips, n_raters=semantic.raw.n_raters)
            if semantic.corrected is None:
                notes.append(f"{aspect.value} clue agreement: clues of different clips are alike, no chance correction")
            else:
                row.update(corrected=semantic.corrected.value, corrected_low=semantic.corrected.ci_low,
                           corrected_high=semantic.corrected.ci_high)
        model_text = {cid: (p.clues or {}).get(aspect.value, "") for cid, p in predictions.items()}
        effort = _try(notes, f"{aspect.value} edit effort", lambda c=clues, m=model_text: edit_effort(c, m, **boot))
        if effort:
            row.update(effort=effort.value, effort_low=effort.ci_low, effort_high=effort.ci_high,
                       effort_n_clips=effort.n_clips)
        if len(row) > 1:
            out.append(row)
    return out


def _model_rows(session: Session, dataset_id: int, consensus: dict, notes: list[str], embed, boot,
                max_clips: int = DEFAULT_MAX_CLUE_CLIPS) -> list[dict]:
    """How the model's current predictions compare with the current consensus."""
    predictions = prediction_queries.current_predictions(session, dataset_id=dataset_id, clip_ids=consensus)
    pairs = [(p, consensus[cid]) for cid, p in predictions.items()]
    clue_pairs = pairs
    if len(pairs) > max_clips:
        # As for annotators' clues: embedding every consensus clue takes minutes; a seeded sample estimates it.
        chosen = np.random.default_rng(boot["seed"]).choice(len(pairs), size=max_clips, replace=False)
        clue_pairs = [pairs[i] for i in sorted(chosen)]
        notes.append(f"model clue similarity: estimated on a random sample of {max_clips:,} of {len(pairs):,} "
                     "clips with a consensus")
    out = []
    labelled = [(p.emotion, c.emotion) for p, c in pairs if p.emotion and c.emotion]
    if labelled:
        hits = np.array([[float(m == c), 1.0] for m, c in labelled])
        est = estimate(hits, lambda t: t[..., 0] / t[..., 1], n_raters=1, **boot)
        out.append(_row("model", "emotion accuracy vs consensus", est))
    else:
        notes.append("model vs consensus: no clip has both a prediction and a consensus emotion")
    if pairs:
        from annotation.agreement.clues import default_embed

        vectorise = embed or default_embed
        for aspect in ASPECTS:
            both = [(p.clues.get(aspect.value, ""), c.clues.get(aspect.value, "")) for p, c in clue_pairs]
            both = [(m, c) for m, c in both if m.strip() and c.strip()]
            if not both:
                continue
            vm, vc = vectorise([m for m, _ in both]), vectorise([c for _, c in both])
            sims = np.column_stack([(vm * vc).sum(axis=1), np.ones(len(both))])
            est = estimate(sims, lambda t: t[..., 0] / t[..., 1], n_raters=1, **boot)
            out.append(_row("model", f"{aspect.value} clue similarity vs consensus", est))
    return out
