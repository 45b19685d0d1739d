"""Studies (researcher, lead): build blind evaluations of systems' reasoning, open them to raters,
follow progress and read results."""

import streamlit as st

from annotation.csv_cells import dataframe_csv
from annotation.datasets import list_datasets
from annotation.formats.evaluate import available_sources, source_labels
from annotation.jobs import enqueue
from annotation.permissions import PermissionDenied
from annotation.preference import dpo_jsonl, mer_prefer_csv, pair_verdicts, preference_results
from annotation.studies import (
    StudyError,
    eligible_raters,
    results,
    set_study_status,
    studies_with_progress,
)
from annotation.study_jobs import CREATE_STUDY_KIND
from components.jobs import job_outcome
from components.navigation import guard
from components.study_charts import means_with_intervals, strengths_with_intervals
from components.text import plain
from core.vocabulary import StudyKind

user = guard("pages/studies.py")


def show_preference_results(study, labels: dict[str, str]) -> None:  # noqa: ANN001
    """Bradley–Terry strengths with intervals, win rates, agreement, swap consistency, exports."""
    outcome = preference_results(study_id=study.id)
    if outcome.answers.empty:
        st.info("No answers yet.")
        return
    table = outcome.strengths.assign(name=[labels.get(s, s) for s in outcome.strengths["system"]])
    st.plotly_chart(strengths_with_intervals(outcome.strengths, labels=labels), width="stretch",
                    key="preference_chart")
    st.dataframe(table[["name", "system", "strength", "ci_low", "ci_high", "win_rate", "wins", "ties", "losses",
                        "comparisons"]], hide_index=True, width="stretch", key="preference_table",
                 column_config={"win_rate": st.column_config.NumberColumn("win rate", format="percent")})
    st.caption("Ties (“same”) count as half a win for each side; strengths use first showings only"
               + (". Some system never lost or never won, so the fit is regularised (choix α = 0.1)."
                  if outcome.regularised else "."))
    if outcome.agreement is not None:
        a = outcome.agreement
        st.metric("Rater agreement (Krippendorff's α, nominal, on first better / second better / same)",
                  f"{a.value:.3f}", help=f"95% bootstrap interval {a.ci_low:.3f} – {a.ci_high:.3f} over "
                                         f"{a.n_clips} pairs, {a.n_raters} raters")
    else:
        st.caption(f"Rater agreement: {outcome.agreement_note}")
    if not outcome.consistency.empty:
        names = {u.id: u.username for u in eligible_raters()}
        st.markdown("**Swap consistency**: the same answer when a pair came back with sides swapped")
        st.dataframe(outcome.consistency.assign(rater=outcome.consistency["rater_id"].map(names)),
                     hide_index=True, key="preference_consistency",
                     column_config={"share": st.column_config.NumberColumn("share", format="percent")})
    verdicts = pair_verdicts(user=user, study_id=study.id)
    left, right = st.columns(2)
    left.download_button("MER-Prefer CSV (name, a1, a2, preference)", mer_prefer_csv(verdicts).encode(),
                         file_name=f"study-{study.id}-mer-prefer.csv", mime="text/csv", key="preference_csv")
    right.download_button("DPO triples (JSONL)", dpo_jsonl(verdicts).encode(),
                          file_name=f"study-{study.id}-dpo.jsonl", mime="application/jsonl", key="preference_dpo")


st.title("Studies")
st.caption("Rating studies: raters see each clip's outputs blind, as Output A, B, C…, in an order shuffled per "
           "rater and rotated so every system appears in every position equally often, and rate each 1–4. "
           "Preference studies: raters see two descriptions, A and B, and say which is better or that they are "
           "the same; sides are counterbalanced and a share of pairs returns later with sides swapped.")

datasets = list(list_datasets())
people = eligible_raters()
if not datasets:
    st.info("No dataset yet: import clips first.")
    st.stop()
datasets_by_id = {d.id: d for d in datasets}

create_tab, studies_tab = st.tabs(["New study", "Studies and results"])

with create_tab:
    dataset_id = st.selectbox("Dataset", list(datasets_by_id), format_func=lambda i: datasets_by_id[i].name,
                              key="study_dataset")
    labels = source_labels(dataset_id=dataset_id)
    # One output per clip and system: per-annotator sources are not systems.
    sources = [s for s in available_sources(dataset_id=dataset_id)
               if s != "annotations" and not s.endswith("*")]
    kind = st.radio("Kind", [k.value for k in StudyKind], horizontal=True, key="study_kind",
                    format_func={"rating": "Rate each output 1–4", "preference": "Pairwise preference (A, B or same)"}.get)
    name = st.text_input("Study name", key="study_name")
    description = st.text_area("Description (what raters should judge)", key="study_description")
    systems = st.multiselect("Systems to compare (2 or more)", sources, format_func=lambda s: labels.get(s, s),
                             key="study_systems", select_all=False)  # pick the systems, not everything
    left, right = st.columns(2)
    clip_count = left.number_input("Clips", min_value=1, value=20, step=1, key="study_clips")
    seed = right.number_input("Seed (which clips are drawn)", min_value=0, value=0, step=1, key="study_seed")
    repeat_share = 0.2
    if kind == StudyKind.preference.value:
        repeat_share = st.slider("Share of pairs shown again with sides swapped (swap consistency)", 0.0, 0.5, 0.2,
                                 step=0.05, key="study_repeat_share")
    invited = st.multiselect("Raters (empty: every annotator, researcher and lead)", [u.id for u in people],
                             format_func=lambda i: next(u.username for u in people if u.id == i), key="study_raters")
    if st.button("Create study", type="primary", key="study_create"):
        try:
            st.session_state["study_create_job"] = enqueue(CREATE_STUDY_KIND, user=user, params={
                "dataset_id": dataset_id, "name": name, "systems": systems, "clip_count": int(clip_count),
                "seed": int(seed), "description": description, "raters": invited, "kind": kind,
                "repeat_share": float(repeat_share)})
        except PermissionDenied as exc:
            st.error(plain(exc))

    if st.session_state.get("study_create_job"):
        job_outcome(st.session_state["study_create_job"], doing="Creating the study", unit="system(s) read",
                    show_result=lambda row: st.success(f"Created the study “{plain(row.result.get('name', ''))}” "
                                                       "(draft). Open it below when you are ready."))

with studies_tab:
    progress = studies_with_progress()
    if not progress:
        st.info("No studies yet.")
        st.stop()
    st.dataframe([{"id": p.study.id, "name": p.study.name, "kind": p.study.kind, "status": p.study.status,
                   "dataset": datasets_by_id[p.study.dataset_id].name if p.study.dataset_id in datasets_by_id else "",
                   "systems": len(p.study.systems), "outputs": p.items,
                   "answers": f"{p.ratings} / {p.expected}",
                   "done": p.ratings / p.expected if p.expected else 0.0} for p in progress],
                 column_config={"done": st.column_config.ProgressColumn("done", min_value=0.0, max_value=1.0)},
                 hide_index=True, width="stretch")
    by_id = {p.study.id: p.study for p in progress}
    study = by_id[st.selectbox("Study", list(by_id), format_func=lambda i: f"#{i} {by_id[i].name}",
                               key="study_pick")]
    if study.description:
        st.markdown(plain(study.description))
    left, right, _ = st.columns([1, 1, 4])
    target = None
    if left.button("Open to raters", disabled=study.status == "open", key="study_open"):
        target = "open"
    if right.button("Close", disabled=study.status != "open", key="study_close"):
        target = "closed"
    if target:
        try:
            set_study_status(user=user, study_id=study.id, status=target)
            st.rerun()
        except (StudyError, PermissionDenied) as exc:
            st.error(plain(exc))

    st.subheader("Results")
    labels = source_labels(dataset_id=study.dataset_id)
    if study.kind == StudyKind.preference.value:
        show_preference_results(study, labels)
        st.stop()
    outcome = results(study_id=study.id)
    table = outcome.systems.assign(name=[labels.get(s, s) for s in outcome.systems["system"]])
    if table["n_ratings"].sum() == 0:
        st.info("No ratings yet.")
        st.stop()
    st.plotly_chart(means_with_intervals(outcome.systems, labels=labels), width="stretch")
    st.dataframe(table[["name", "system", "mean", "ci_low", "ci_high", "n_ratings", "n_clips", "share_3_4"]],
                 hide_index=True, width="stretch", key="study_results_table",
                 column_config={"share_3_4": st.column_config.NumberColumn("share rated 3–4", format="percent")})
    if outcome.agreement is not None:
        a = outcome.agreement
        st.metric("Rater agreement (Krippendorff's α, ordinal)", f"{a.value:.3f}",
                  help=f"95% bootstrap interval {a.ci_low:.3f} – {a.ci_high:.3f} over {a.n_clips} outputs, "
                       f"{a.n_raters} raters")
    else:
        st.caption(f"Rater agreement: {plain(outcome.agreement_note)}")
    if outcome.friedman is not None:
        f = outcome.friedman
        st.markdown(f"**Friedman test** across systems over {f['n_clips']} clips: "
                    f"χ² = {f['statistic']:.2f}, p = {f['p']:.4g}")
    pairwise = outcome.pairwise.assign(a=lambda t: t["a"].map(lambda s: labels.get(s, s)),
                                       b=lambda t: t["b"].map(lambda s: labels.get(s, s)))
    st.markdown("**Pairwise Wilcoxon signed-rank tests** on per-clip mean ratings (Holm-corrected)")
    st.dataframe(pairwise, hide_index=True, width="stretch", key="study_pairwise_table")
    st.markdown("**Mean rating by display position** (a check on order effects; the blind order balances them)")
    st.dataframe(outcome.by_position, hide_index=True, key="study_position_table")
    if len(outcome.comments):
        with st.expander(f"Raters' comments ({len(outcome.comments)})"):
            st.dataframe(outcome.comments.assign(system=outcome.comments["system"].map(lambda s: labels.get(s, s))),
                         hide_index=True, width="stretch", key="study_comments_table")
    st.download_button("Download results (CSV)", dataframe_csv(table),
                       file_name=f"study-{study.id}-results.csv", mime="text/csv", key="study_download")
    st.download_button("Download pairwise tests (CSV)", dataframe_csv(pairwise),
                       file_name=f"study-{study.id}-pairwise.csv", mime="text/csv", key="study_download_pairs")
