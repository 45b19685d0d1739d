"""Assignments (lead): queue settings, overlap, named assignments and per-annotator progress."""

from __future__ import annotations

import streamlit as st

from annotation.labelling import coverage, queue
from annotation.labelling.annotate import datasets_for, get_user
from annotation.permissions import PermissionDenied
from components.coverage_charts import coverage_chart
from components.navigation import guard
from components.text import plain
from core.vocabulary import COVERAGE_TITLES, Coverage, QueueStrategy

DATASET = "assign_dataset_id"
FLASH = "assign_flash"


def run_action(action, **kwargs) -> None:  # noqa: ANN001 - a queue function
    """Call a queue write and leave its outcome for the next draw."""
    try:
        user = get_user(user_id=st.session_state.get("user_id"))
        result = action(user=user, **kwargs)
    except (queue.QueueError, PermissionDenied) as error:
        st.session_state[FLASH] = ("error", str(error))
        return
    message = result.message if isinstance(result, queue.AssignResult) else "Saved."
    st.session_state[FLASH] = ("success", message)


def save_settings(dataset_id: int) -> None:
    state = st.session_state
    run_action(queue.set_overlap, dataset_id=dataset_id, overlap=int(state["assign_overlap"]))
    if st.session_state.get(FLASH, ("success",))[0] == "error":
        return
    run_action(queue.set_strategy, dataset_id=dataset_id, strategy=state["assign_strategy"],
               lease_minutes=int(state["assign_lease"]), random_seed=int(state["assign_seed"]))


def assign(dataset_id: int) -> None:
    state = st.session_state
    names = (state.get("assign_clips") or "").splitlines()
    annotators = state.get("assign_annotators") or []
    if not annotators or not any(n.strip() for n in names):
        state[FLASH] = ("error", "Pick at least one annotator and list at least one clip name.")
        return
    clip_ids, missing = queue.resolve_clip_names(dataset_id=dataset_id, names=names)
    if missing:
        state[FLASH] = ("error", f"No clip named: {', '.join(missing[:10])}" + (" …" if len(missing) > 10 else ""))
        return
    if state.get("assign_override"):
        run_action(queue.set_overlap, dataset_id=dataset_id, overlap=int(state["assign_override_value"]),
                   clip_ids=clip_ids)
        if state[FLASH][0] == "error":
            return
    run_action(queue.assign_clips, dataset_id=dataset_id, clip_ids=clip_ids, annotator_ids=annotators)


COVERAGE_PAGE = "assign_coverage_page"
COVERAGE_PAGE_SIZE = 50


def show_coverage(user, dataset_id: int) -> None:  # noqa: ANN001
    """Per-clip coverage: a chart of clips by submitted-of-wanted annotations, and a filterable, paged table."""
    st.subheader("Coverage by clip")
    summary = coverage.coverage_summary(user=user, dataset_id=dataset_id)
    if not summary:
        st.caption("No ready clips yet.")
        return
    st.plotly_chart(coverage_chart(summary), key="assign_coverage_chart", width="stretch")
    states = ["any", *(c.value for c in Coverage)]
    state = st.selectbox("Show clips", states, key="assign_coverage_filter",
                         format_func=lambda s: "all ready clips" if s == "any" else COVERAGE_TITLES[s],
                         on_change=lambda: st.session_state.pop(COVERAGE_PAGE, None))
    page = st.session_state.get(COVERAGE_PAGE, 0)
    rows, total = coverage.clip_coverage(user=user, dataset_id=dataset_id, state=None if state == "any" else state,
                                         limit=COVERAGE_PAGE_SIZE, offset=page * COVERAGE_PAGE_SIZE)
    st.caption(f"{total} clip(s)")
    if rows:
        st.dataframe([{
            "Clip": r["name"], "Coverage": COVERAGE_TITLES[r["coverage"]],
            "Submitted": f"{r['submitted']} of {r['wanted']}", "Skipped": r["skipped"],
            "Adjudicated": "yes" if r["adjudicated"] else "no",
        } for r in rows], hide_index=True, width="stretch", key="assign_coverage_table")
    pages = max(1, -(-total // COVERAGE_PAGE_SIZE))
    if pages > 1:
        previous, info, following = st.columns([1, 2, 1])
        if previous.button("← Previous", disabled=page == 0, key="assign_coverage_prev"):
            st.session_state[COVERAGE_PAGE] = page - 1
            st.rerun()
        info.caption(f"Page {page + 1} of {pages}")
        if following.button("Next →", disabled=page + 1 >= pages, key="assign_coverage_next"):
            st.session_state[COVERAGE_PAGE] = page + 1
            st.rerun()


def main() -> None:
    user = guard("pages/assignments.py")
    st.title("Assignments")
    flash = st.session_state.pop(FLASH, None)
    if flash:
        {"success": st.success, "error": st.error}[flash[0]](plain(flash[1]))
    datasets = datasets_for(user=user)
    annotators = queue.list_annotators(user=user)
    if not datasets:
        st.info("There is no dataset yet.")
        return
    names = {d.id: d.name for d in datasets}
    if st.session_state.get(DATASET) not in names:
        st.session_state[DATASET] = datasets[0].id
    dataset_id = st.selectbox("Dataset", list(names), key=DATASET, format_func=names.get)
    report = queue.cached_dataset_progress(user=user, dataset_id=dataset_id)
    dataset = next(d for d in datasets if d.id == dataset_id)

    ready, slots, overlap = st.columns(3)
    ready.metric("Ready clips", report["ready_clips"])
    slots.metric("Open slots", report["open_slots"])
    overlap.metric("Annotations per clip", report["overlap"])
    st.subheader("Progress by annotator")
    if report["annotators"]:
        st.dataframe([{
            "Annotator": r["annotator"], "Submitted": r["submitted"], "Skipped": r["skipped"], "Drafts": r["draft"],
            "Leased now": r["leased"],
            "Median s/clip": round(r["median_seconds"]) if r["median_seconds"] is not None else None,
        } for r in report["annotators"]], hide_index=True, width="stretch")
    else:
        st.caption("Nobody has started on this dataset.")
    show_coverage(user, dataset_id)

    with st.form("assign_settings"):
        st.subheader("Queue settings")
        strategies = [s.value for s in QueueStrategy]
        left, middle, right, seed = st.columns(4)
        left.number_input("Annotations per clip (overlap)", min_value=1, max_value=50, value=dataset.overlap,
                          key="assign_overlap")
        middle.selectbox("Order", strategies, index=strategies.index(dataset.strategy)
                         if dataset.strategy in strategies else 0, key="assign_strategy",
                         help="uncertainty: the model's least certain clips first")
        right.number_input("Lease (minutes)", min_value=1, max_value=24 * 60, value=dataset.lease_minutes,
                           key="assign_lease")
        seed.number_input("Random seed", value=int((dataset.settings or {}).get("random_seed", 0)), step=1,
                          key="assign_seed")
        st.form_submit_button("Save settings", on_click=save_settings, args=(dataset_id,))

    with st.form("assign_clips_form"):
        st.subheader("Assign clips to annotators")
        people = {u.id: u.display_name or u.username for u in annotators}
        st.multiselect("Annotators", list(people), format_func=people.get, key="assign_annotators")
        st.text_area("Clip names, one per line", key="assign_clips", height=120)
        override, value = st.columns(2)
        override.checkbox("Also set these clips' overlap to", key="assign_override")
        value.number_input("Overlap for these clips", min_value=1, max_value=50, value=dataset.overlap,
                           key="assign_override_value", label_visibility="collapsed")
        st.form_submit_button("Assign", on_click=assign, args=(dataset_id,))


main()
