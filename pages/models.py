"""Models (lead, researcher): versions and their held-out metrics, learning curve, confusion; train,
evaluate, promote and re-predict as background jobs."""

import pandas as pd
import streamlit as st

from annotation.datasets import list_datasets
from annotation.jobs import enqueue, list_jobs
from annotation.permissions import PermissionDenied, has_role
from components.jobs import job_progress, live_list
from components.llm_merge import llm_endpoint_panel
from components.model_charts import confusion_heatmap, learning_curve
from components.navigation import guard
from components.text import plain
from components.times import when
from core.vocabulary import Role
from model.inference import backend_for
from model.jobs import promote_and_repredict
from model.registry import make_backend
from model.reports import confusion_of, version_row
from model.reports import learning_curve as curve_points
from model.training import PromotionNotBetter, list_versions, training_readiness

MODEL_JOBS = ("train", "evaluate", "predict", "extract-features")

user = guard("pages/models.py")
is_lead = has_role(user, Role.lead)
st.title("Models")

datasets = list(list_datasets())
if not datasets:
    st.info("No dataset yet: import clips first.")
    st.stop()
by_name = {d.name: d for d in datasets}
dataset = by_name[st.selectbox("Dataset", list(by_name), key="models_dataset")]
versions = list(list_versions(dataset_id=dataset.id))
llm_endpoint_panel()


def _promote(version, *, confirm: bool) -> None:  # noqa: ANN001 - a ModelVersion
    try:
        result = promote_and_repredict(version_id=version.id, user=user, confirm=confirm)
        st.session_state.pop("models.not_better", None)
        if result["repredict_job_id"]:
            _started(result["repredict_job_id"], f"{version.name} is active; re-prediction")
    except PromotionNotBetter as refused:
        st.session_state["models.not_better"] = (version.id, str(refused))
    except PermissionDenied as error:
        st.error(plain(error))


def _model_problems() -> list[str]:
    """What stops the configured backend (and the chosen version) from loading, e.g. a missing checkpoint."""
    backends = [make_backend(label_set=dataset.label_set)]
    chosen_id = st.session_state.get("models_version")
    backends += [backend_for(v) for v in versions if chosen_id and f"{v.name} (#{v.id})" == chosen_id]
    return list(dict.fromkeys(p for b in backends for p in b.describe().get("problems", [])))


for problem in _model_problems():
    st.error(f"Model: {problem}", icon=":material/error:")


def _started(job_id: int, what: str) -> None:
    st.session_state["models_job"] = job_id
    st.toast(f"{plain(what)} started (job {job_id}).")


actions = st.columns(4)
not_ready = training_readiness(dataset_id=dataset.id)
with actions[0]:
    if st.button("Train on consensus", type="primary", icon=":material/model_training:", disabled=bool(not_ready),
                 help=f"Not yet: {not_ready}" if not_ready else "Train a new version on the current consensus."):
        _started(enqueue("train", params={"dataset_id": dataset.id}, user=user), "Training")
if not_ready:
    st.caption(f"Training is off: {not_ready}.")

if not versions:
    st.info("No model version yet. Train one, or pre-annotate the clips with the untrained baseline.")
    if st.button("Pre-annotate clips", icon=":material/auto_awesome:"):
        _started(enqueue("predict", params={"dataset_id": dataset.id}, user=user), "Prediction")
else:
    rows = [{**version_row(v), "created": when(v.created_at)} for v in versions]
    names = {f"{v.name} (#{v.id})": v for v in reversed(versions)}
    # A version that appeared since this page last ran (a training job just ended) is chosen at once.
    known_key = f"models.known_versions.{dataset.id}"
    known = st.session_state.get(known_key)
    if known is not None and (fresh := [v for v in versions if v.id not in known]):
        newest = max(fresh, key=lambda v: v.id)
        st.session_state["models_version"] = f"{newest.name} (#{newest.id})"
    st.session_state[known_key] = {v.id for v in versions}
    chosen = names[st.selectbox("Version", list(names), key="models_version")]
    with actions[1]:
        if st.button("Evaluate", icon=":material/fact_check:"):
            _started(enqueue("evaluate", params={"model_version_id": chosen.id, "dataset_id": dataset.id}, user=user),
                     "Evaluation")
    with actions[2]:
        if st.button("Promote", icon=":material/verified:", disabled=not is_lead or chosen.is_active,
                     help="Leads only: make this version active and re-predict the unlabelled clips."):
            _promote(chosen, confirm=False)
    with actions[3]:
        if st.button("Re-predict", icon=":material/refresh:"):
            _started(enqueue("predict", params={"dataset_id": dataset.id, "model_version_id": chosen.id}, user=user),
                     "Prediction")

    if (held := st.session_state.get("models.not_better")) and held[0] == chosen.id:
        st.warning(plain(held[1]))
        if st.button("Promote anyway", key="models.promote_anyway", disabled=not is_lead):
            _promote(chosen, confirm=True)
            st.rerun()

    st.subheader("Versions")
    st.dataframe(pd.DataFrame(rows).set_index("id"), use_container_width=True)
    left, right = st.columns(2)
    with left:
        st.subheader("Learning curve")
        learning_curve(curve_points(versions))
    with right:
        st.subheader(f"Confusion — {plain(chosen.name)}")
        confusion_heatmap(confusion_of(chosen))
    held = (chosen.metrics or {}).get("held_out") or {}
    if held.get("per_class_f1"):
        st.caption("Per-class F1 on held-out consensus: " +
                   " · ".join(f"{plain(label)} {value:.2f}" for label, value in held["per_class_f1"].items()))

if "models_job" in st.session_state:
    st.subheader("Current job")
    job_progress(st.session_state["models_job"])

st.subheader("Model jobs")


def _recent_model_jobs() -> list:
    return [j for j in list_jobs(limit=50) if j.kind in MODEL_JOBS][:10]


def _model_job(row) -> None:  # noqa: ANN001 - a Job
    label = f"{row.kind} #{row.id}: {row.state}" + (f" — {row.done + row.failed}/{row.total}" if row.total else "")
    label += f" · started {when(row.created_at)}" + (f" · {plain(row.message)}" if row.message else "")
    st.progress(row.progress, text=label)
    if row.log:
        with st.expander(f"Log of job {row.id}"):
            st.code(row.log[-2000:], language=None)


recent = _recent_model_jobs()
if not recent:
    st.caption("No model jobs yet.")
live_list(recent, _recent_model_jobs, _model_job)
