"""Evaluate & exchange (researcher, lead): score systems on a reference, import and export research files."""

from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st

from annotation.datasets import HELD_OUT_SPLIT, list_datasets
from annotation.formats import FORMATS
from annotation.formats.evaluate import available_sources, openset_scores, source_labels
from annotation.formats.export_service import export_of_job
from annotation.formats.jobs import EVALUATE_KIND, EXPORT_KIND, IMPORT_KIND
from annotation.formats.service import save_data_uploads
from annotation.jobs import enqueue
from annotation.permissions import PermissionDenied, has_role
from components.clue_flags import show_system_quality
from components.jobs import job_outcome
from components.model_charts import metric_column_config, metric_figures
from components.navigation import guard
from components.text import plain
from core.settings import get_settings
from core.vocabulary import Role
from model.jobs import EVALUATE_MODELS_KIND

SPLITS = ["all", "train", "val", "test", HELD_OUT_SPLIT]
SPLIT_NAMES = {HELD_OUT_SPLIT: "held-out (the clips no model version trains on)"}

user = guard("pages/evaluate_sources.py")
settings = get_settings()
st.title("Evaluate & exchange")

items = list_datasets()  # names only: overview() would count every annotation on each rerun
if not items:
    st.info("No datasets yet.")
    st.stop()

by_name = {d.name: d for d in items}
dataset = by_name[st.selectbox("Dataset", list(by_name), key="fmt_dataset")]
sources = available_sources(dataset_id=dataset.id)
labels = source_labels(dataset_id=dataset.id)

evaluate_tab, openset_tab, quality_tab, import_tab, export_tab = st.tabs(
    ["Evaluate", "Open vocabulary (EW)", "Clue quality", "Import", "Export"])

with evaluate_tab:
    reference = st.selectbox("Reference (ground truth)", sources, format_func=lambda s: labels.get(s, s),
                             key="fmt_reference")
    others = [s for s in sources if s != reference]
    systems = st.multiselect("Systems to score", others, default=[s for s in others if s.startswith("model:")],
                             format_func=lambda s: labels.get(s, s), key="fmt_systems")
    with_models = any(s.startswith("model:") for s in systems)
    # Versions learn from consensus: against it they are compared on the held-out clips by default
    # (each first predicts the held-out clips it lacks).
    split_choices = [HELD_OUT_SPLIT, *SPLITS[:-1]] if with_models and reference == "consensus" else SPLITS
    split = st.selectbox("Split", split_choices, key=f"fmt_eval_split_{split_choices[0]}",
                         format_func=lambda s: SPLIT_NAMES.get(s, s))
    judge_ready = bool(settings.openai_base_url)
    use_judge = st.checkbox("Also score with the LLM judge (EMER clue and label overlap)", disabled=not judge_ready,
                            help=None if judge_ready else "Set OPENAI_BASE_URL to use an LLM judge.", key="fmt_judge")
    if st.button("Score", type="primary", disabled=not systems, key="fmt_score"):
        st.session_state["fmt_eval_job"] = enqueue(EVALUATE_MODELS_KIND if with_models else EVALUATE_KIND,
                                                   user=user, params={
            "dataset_id": dataset.id, "reference": reference, "systems": systems,
            "split": None if split == "all" else split, "use_judge": bool(use_judge)})

    def _results(row) -> None:  # noqa: ANN001 - a finished Job
        table = pd.DataFrame(row.result.get("table", []))
        if table.empty:
            st.info("Nothing to score.")
            return
        table["system"] = [labels.get(s, s) for s in table["system"]]
        st.session_state["fmt_table"] = table
        for system, count in (row.result.get("predicted") or {}).items():
            st.caption(f"{plain(labels.get(system, system))}: predicted {count} held-out clip(s) it lacked first.")
        st.dataframe(table, hide_index=True, width="stretch", column_config=metric_column_config(table),
                     key="fmt_eval_table")
        reference_name = labels.get(row.result["reference"], row.result["reference"])
        for scale, figure in metric_figures(table, title=f"Scores against {reference_name}"):
            st.plotly_chart(figure, width="stretch", key=f"fmt_chart_{scale.split('–')[1]}")
        st.caption("Accuracy, weighted F1, UAR, WAR and wheel F are 0–1; clue overlap (proxy and judge) and "
                   "label overlap are 0–10, the proxy's 0 being chance: each scale has its own chart.")

    if st.session_state.get("fmt_eval_job"):
        job_outcome(st.session_state["fmt_eval_job"], doing="Scoring", show_result=_results)

with openset_tab:
    st.caption("The MER2025/2026 emotion-wheel metric on open-vocabulary word sets: each word is mapped onto "
               "five emotion wheels; F, precision and recall are averaged over them at level 1 and level 2. "
               "Annotators are scored on the clips they labelled.")
    ew_reference = st.selectbox("Reference word sets", sources, format_func=lambda s: labels.get(s, s),
                                key="ew_reference")
    ew_others = [s for s in sources if s != ew_reference]
    ew_systems = st.multiselect("Systems", ew_others, default=[s for s in ew_others if s.startswith("model:")
                                                               or s == "annotations"],
                                format_func=lambda s: labels.get(s, s), key="ew_systems")
    ew_split = st.selectbox("Split", SPLITS, key="ew_split", format_func=lambda s: SPLIT_NAMES.get(s, s))
    if st.button("Score word sets", type="primary", disabled=not ew_systems, key="ew_score"):
        try:
            result = openset_scores(dataset_id=dataset.id, reference=ew_reference, systems=ew_systems,
                                    split=None if ew_split == "all" else ew_split)
        except ValueError as error:
            st.error(str(error))
        else:
            ew_table = result.table.assign(system=[labels.get(s, s) for s in result.table["system"]])
            st.caption(f"{result.gold_clips} reference clip(s) with words.")
            ew_config = metric_column_config(ew_table)
            ew_config["unmapped"] = st.column_config.TextColumn(
                "Not on the wheel", help="the system's words the EW metric drops")
            st.dataframe(ew_table, hide_index=True, width="stretch", key="ew_table", column_config=ew_config)
            if result.gold_unmapped:
                st.caption("Reference words not on the wheel (dropped): " + ", ".join(result.gold_unmapped))
            if not ew_table.empty:
                long = ew_table.melt(id_vars="system", value_vars=["level1_f", "level2_f", "mean_f", "hit_rate"],
                                     var_name="metric", value_name="value")
                chart = px.bar(long, x="metric", y="value", color="system", barmode="group", text_auto=".2f",
                               title="Emotion-wheel scores (0–1)")
                st.plotly_chart(chart.update_layout(yaxis_range=[0, 1.1]), width="stretch")

with quality_tab:
    show_system_quality(dataset_id=dataset.id, sources=sources, labels=labels)

with import_tab:
    if not has_role(user, Role.lead):
        st.info("Importing research data is for leads.")
    else:
        files = st.file_uploader("EMER CSV, MERR JSON/TXT, MER-Factory JSON, label CSV, JSONL, openset CSV/npz",
                                 accept_multiple_files=True, key="fmt_uploads")
        server_path = st.text_input("…or a file or folder on the server", key="fmt_server_path")
        media_dir = st.text_input("Media folder on the server (videos matched by name; optional)", key="fmt_media")
        format_choice = st.selectbox("Format", ["detect"] + list(FORMATS),
                                     format_func=lambda k: FORMATS[k].title if k in FORMATS else "Detect from the file",
                                     key="fmt_format_in")
        source_name = st.text_input("Source name (e.g. emer-gt, mer-factory-gemini; default by format)",
                                    key="fmt_source_name")
        if st.button("Import", type="primary", disabled=not (files or server_path), key="fmt_import"):
            targets, refused = [], []
            if files:
                targets, refused = save_data_uploads(user=user, files=[(f.name, f.getvalue()) for f in files],
                                                     uploads_dir=settings.data_dir / "uploads",
                                                     max_bytes=settings.max_media_bytes)
            if server_path:
                targets.append(Path(server_path))
            for reason in refused:
                st.warning(plain(reason))
            try:
                st.session_state["fmt_import_job"] = enqueue(IMPORT_KIND, user=user, params={
                    "dataset_id": dataset.id, "paths": [str(p) for p in targets], "media_dir": media_dir or None,
                    "format": None if format_choice == "detect" else format_choice,
                    "source": source_name.strip() or None})
            except PermissionDenied as error:
                st.error(plain(error))

        def _import_report(row) -> None:  # noqa: ANN001 - a finished Job
            report = row.result
            (st.success if not report.get("error_count") else st.warning)(plain(report.get("summary", "")))
            for error in report.get("errors", [])[:200]:
                where = f"row {error['row']}" if error.get("row") else (error.get("name") or "")
                st.markdown(f"- {plain(where)}: {plain(error['reason'])}")

        if st.session_state.get("fmt_import_job"):
            job_outcome(st.session_state["fmt_import_job"], doing="Importing", unit="file(s)",
                        show_result=_import_report)

with export_tab:
    export_source = st.selectbox("Source", sources, format_func=lambda s: labels.get(s, s), key="fmt_export_source")
    export_split = st.selectbox("Split", SPLITS, key="fmt_export_split")
    export_format = st.selectbox("Format", list(FORMATS), format_func=lambda k: FORMATS[k].title,
                                 key="fmt_format_out")
    if st.button("Prepare download", key="fmt_export"):
        try:  # a job writes the zip to disk with progress; the page never holds the whole file
            st.session_state["fmt_export_job"] = enqueue(EXPORT_KIND, user=user, params={
                "dataset_id": dataset.id, "source": export_source, "format": export_format,
                "split": None if export_split == "all" else export_split})
        except (ValueError, PermissionDenied) as error:
            st.error(plain(error))

    def _export(row) -> None:  # noqa: ANN001 - a finished Job
        export = export_of_job(row.result, data_dir=settings.data_dir)
        if export is None:
            st.warning("The exported file is gone; prepare the download again.")
            return
        st.session_state["fmt_download"] = (export.name, export.path)
        st.download_button(f"Download {plain(export.name)} ({export.rows} rows)", export.path.read_bytes,
                           file_name=export.name, mime="application/zip", key="fmt_download_button")

    if st.session_state.get("fmt_export_job"):
        job_outcome(st.session_state["fmt_export_job"], doing="Exporting", show_result=_export)
