"""Jobs: background work with progress, logs, cancel and retry."""

import streamlit as st

from annotation.jobs import recover_stale_jobs
from components.jobs import jobs_table
from components.navigation import guard

guard("pages/jobs.py")

st.title("Jobs")
recovered = recover_stale_jobs()
if recovered:
    st.warning(f"Job(s) {', '.join(map(str, recovered))} lost their worker and were marked failed; retry to finish them.")
if st.button("Refresh", icon=":material/refresh:"):
    st.rerun()
jobs_table()
