"""Home: datasets at a glance and what to do next for each of the user's roles."""

import streamlit as st

from annotation.datasets import overview
from annotation.labelling import annotate
from components.navigation import guard, link, role_names
from components.text import plain
from core.vocabulary import Role

user = guard("pages/home.py")
st.title("ClueLab")
st.caption("Label why people in video clips feel what they feel — four clue aspects, an emotion, "
           "and a rating of the model's reasoning.")

datasets = overview()
st.caption(f"Signed in as {plain(user.display_name or user.username)} ({role_names(user)}).")

roles = set(user.roles) if user else set()
st.subheader("What to do next")
if not datasets:
    st.info("No datasets yet." + (" Import clips on **Datasets & import**." if roles & {"lead", "admin"} else
                                  " A lead imports clips first."))
if Role.annotator.value in roles:
    mine = [(item.dataset.name, annotate.progress(user=user, dataset_id=item.dataset.id))
            for item in datasets]
    waiting = sum(p.remaining for _, p in mine)
    today = sum(p.done_today for _, p in mine)
    st.markdown(f"**Annotator** — {waiting} clip(s) waiting for you across {len(datasets)} dataset(s); "
                f"{today} done today.")
    link(user, "pages/annotate.py", "Annotate the next clip")
    link(user, "pages/my_work.py", "Review my submissions")
if Role.admin.value in roles:
    st.markdown("**Admin** — create accounts, set roles, reset passwords. An admin may also open every other "
                "page.")
    link(user, "pages/admin.py", "Manage users and roles")
if Role.lead.value in roles:
    pending = sum(item.counts["pending"] for item in datasets)
    errors = sum(item.counts["errors"] for item in datasets)
    st.markdown(f"**Lead** — {pending} clip(s) waiting for media processing, {errors} with errors. "
                "Import data, reconcile annotations and watch agreement.")
    link(user, "pages/datasets.py")
    link(user, "pages/adjudicate.py")
    link(user, "pages/agreement.py")
if Role.researcher.value in roles:
    st.markdown("**Researcher** — browse clips, compare model versions and run blind human evaluations.")
    link(user, "pages/clips.py")
    link(user, "pages/models.py")

if datasets and roles & {"lead", "researcher", "admin"}:
    st.subheader("Datasets")
    for item in datasets:
        d, c = item.dataset, item.counts
        with st.container(border=True):
            title = f"**{plain(d.name)}**" + ("  :orange-badge[synthetic]" if d.is_synthetic else "")
            st.markdown(title)
            if d.description:
                st.caption(plain(d.description))
            cols = st.columns(5)
            cols[0].metric("Clips", c["clips"])
            cols[1].metric("Ready", c["ready"])
            cols[2].metric("Errors", c["errors"])
            cols[3].metric("Annotations", c["annotations"])
            cols[4].metric("With consensus", c["consensus"])
            st.caption(f"Labels: {plain(', '.join(d.label_set))} · overlap {d.overlap} · queue: {plain(d.strategy)}")
