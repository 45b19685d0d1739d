"""Agreement: how far annotators agree, per dataset, aspect, label and annotator, with intervals."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import streamlit as st

from annotation.agreement.report import cached_report, dataset_annotators
from annotation.agreement.word_sets import word_set_agreement
from annotation.datasets import list_datasets
from annotation.evaluation.word_sets import wheel_choices
from components import agreement_charts as charts
from components.navigation import guard
from components.text import plain


def load_report(dataset_id: int, since, until, user_ids: tuple[int, ...], resamples: int, seed: int):
    # Built once per server process and selection, then refreshed in the background (annotation.agreement.report).
    with st.spinner("Computing agreement…"):
        return cached_report(dataset_id=dataset_id, since=since, until=until, user_ids=user_ids,
                             resamples=resamples, seed=seed)


guard("pages/agreement.py")
st.title("Agreement")

datasets = {d.id: d for d in list_datasets()}
if not datasets:
    st.info("No datasets yet.")
    st.stop()

filters = st.columns([2, 2, 3])
dataset_id = filters[0].selectbox("Dataset", list(datasets), format_func=lambda i: datasets[i].name,
                                  key="agreement.dataset")
dates = filters[1].date_input("Submitted between", value=[], key="agreement.dates")
people = dataset_annotators(dataset_id=dataset_id)
chosen = filters[2].multiselect("Annotators", list(people), format_func=lambda i: people[i], key="agreement.people")
with st.expander("Bootstrap"):
    resamples = st.number_input("Resamples", min_value=100, max_value=10_000, value=1000, step=100,
                                key="agreement.resamples")
    seed = st.number_input("Seed", min_value=0, value=20231, key="agreement.seed")

since = until = None
if len(dates) == 2:
    since = datetime.combine(dates[0], time.min, tzinfo=UTC)
    until = datetime.combine(dates[1], time.min, tzinfo=UTC) + timedelta(days=1)

report = load_report(dataset_id, since, until, tuple(chosen), int(resamples), int(seed))
if report.n_annotations == 0:
    st.info("No finished annotations match these filters.")
    st.stop()
st.caption(f"{report.n_annotations} finished annotations; 95% percentile bootstrap intervals over clips.")



@st.cache_data(ttl=120, show_spinner="Computing word-set agreement…")
def load_word_sets(dataset_id: int, metric: str, resamples: int, seed: int):
    return word_set_agreement(dataset_id=dataset_id, metric=metric, resamples=resamples, seed=seed)


overview, annotators, clues, model, words = st.tabs(["Coefficients", "Annotators", "Clues", "Model", "Emotion words"])
with overview:
    if not report.figures.empty:
        charts.show(charts.figures_chart(report.figures), report.figures, key="figures", filename="agreement.csv",
                    table=True)
    if not report.per_label.empty:
        st.subheader("Per emotion label")
        charts.show(charts.per_label_chart(report.per_label), report.per_label, key="labels",
                    filename="agreement_per_label.csv", table=True)
    for scope in ("emotion", "rating"):
        if (report.pairwise["scope"] == scope).any():
            st.subheader(f"Pairwise Cohen's κ: {scope}" + (" (quadratic weights)" if scope == "rating" else ""))
            pairs = report.pairwise[report.pairwise["scope"] == scope]
            charts.show(charts.pairwise_heatmap(pairs, scope), pairs, key=f"pairs-{scope}",
                        filename=f"pairwise_{scope}.csv")
    if not report.ratings.empty:
        st.subheader("Reasoning ratings")
        charts.show(charts.rating_distribution(report.ratings), report.ratings, key="ratings", filename="ratings.csv")
with annotators:
    charts.show_table(report.annotators, key="agreement.annotators", hide=("user_id",))
    charts.show(charts.annotator_chart(report.annotators), report.annotators, key="annotators",
                filename="annotators.csv")
    if not report.drift.empty:
        st.subheader("Drift: agreement with consensus by week")
        charts.show(charts.drift_chart(report.drift), report.drift, key="drift", filename="drift.csv")
    if not report.confusion.empty:
        st.subheader("Emotion: annotators vs consensus")
        charts.show(charts.confusion_heatmap(report.confusion), report.confusion, key="confusion",
                    filename="confusion.csv")
with clues:
    if report.clues.empty:
        st.info("No clues to compare yet.")
    else:
        charts.show(charts.clue_agreement_chart(report.clues), report.clues, key="clues",
                    filename="clue_agreement.csv")
        charts.show_table(report.clues, key="agreement.clues")
with model:
    if report.model.empty:
        st.info("No clip has both a model prediction and a consensus yet.")
    else:
        charts.show(charts.model_chart(report.model), report.model, key="model", filename="model_vs_consensus.csv",
                    table=True)
with words:
    if not datasets[dataset_id].open_vocabulary:
        st.info("This dataset does not use open-vocabulary emotion words.")
    else:
        wheels = dict(wheel_choices())
        metric = st.selectbox("Map words onto", list(wheels), format_func=wheels.get, key="agreement.wheel")
        sets = load_word_sets(dataset_id, metric, int(resamples), int(seed))
        st.caption(f"Krippendorff's α on {sets.n_annotations} annotators' word sets mapped to {wheels[metric]} "
                   "(a word not on the wheel stays itself). MASI counts a subset as partial agreement "
                   "(Passonneau 2006); Jaccard is the share of shared categories.")
        if not sets.figures.empty:
            charts.show(charts.figures_chart(sets.figures.assign(scope="emotion words", metric=sets.figures[
                "distance"].map({"masi": "α (MASI)", "jaccard": "α (Jaccard)"}))), sets.figures,
                key="word-sets", filename="word_set_agreement.csv")
        charts.show_table(sets.annotators, key="agreement.word_annotators", hide=("user_id",))
        for note in sets.notes:
            st.caption(f"Not shown — {note}")
for note in report.notes:
    st.caption(f"Not shown — {plain(note)}")
