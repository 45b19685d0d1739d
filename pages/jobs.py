"""Jobs: background work with progress, logs, cancel and retry."""

import streamlit as st

from annotation.jobs import stale_running_jobs
from components.jobs import jobs_table
from components.navigation import guard

user = guard("pages/jobs.py")
st.title("Jobs")

# Workers recover jobs whose worker stopped (at start and every half minute or so): a job that stays stale
# here means no worker is running.
stale = stale_running_jobs()
if stale:
    st.warning(f"Job(s) {', '.join(str(j.id) for j in stale)} show no heartbeat: is `cluelab worker` "
               "(or `cluelab serve`) running? A worker resumes them when it starts.")
if st.button("Refresh", icon=":material/refresh:"):
    st.rerun()
jobs_table(user)
