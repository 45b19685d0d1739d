"""Audit log (leads and admins): who did what to which row, newest first, filtered and paged."""

import json

import pandas as pd
import streamlit as st

from annotation.audit_log import AuditFilter, actions, day_after, day_start, people, search
from components.navigation import guard
from components.text import plain

user = guard("pages/audit.py")
PAGE_SIZE = 50
PAGE_KEY = "audit_page"
ANYONE, ANY_ACTION = "Anyone", "Any action"


def _first_page() -> None:
    st.session_state[PAGE_KEY] = 1


st.title("Audit log")
st.caption("Every change and sign-in, newest first. Times are UTC.")

accounts = people(user=user)
names = {a.id: a.username for a in accounts}
who, what, since, until = st.columns([2, 2, 1, 1])
picked_user = who.selectbox("User", [None, *names], format_func=lambda i: ANYONE if i is None else names[i],
                            key="audit_user", on_change=_first_page)
picked_action = what.selectbox("Action", [None, *actions(user=user)],
                               format_func=lambda a: ANY_ACTION if a is None else a, key="audit_action",
                               on_change=_first_page)
from_day = since.date_input("From", value=None, key="audit_since", on_change=_first_page)
to_day = until.date_input("To (inclusive)", value=None, key="audit_until", on_change=_first_page)

wanted = AuditFilter(user_id=picked_user, action=picked_action,
                     since=day_start(from_day) if from_day else None, until=day_after(to_day) if to_day else None)
page_number = max(1, int(st.session_state.get(PAGE_KEY, 1)))
result = search(user=user, wanted=wanted, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE)
if page_number > result.pages:  # the log under this filter is shorter than the page asked for: its last page
    page_number = result.pages
    result = search(user=user, wanted=wanted, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE)
st.session_state[PAGE_KEY] = page_number

if not result.entries:
    st.info("No audit entries match." if result.total == 0 else "No entries on this page.")
else:
    # Dataframe cells show text as typed (no Markdown), so stored names and details pass as they are.
    st.dataframe(pd.DataFrame([{
        "When (UTC)": e.at.strftime("%Y-%m-%d %H:%M:%S"), "User": e.actor, "Action": e.action, "Target": e.target,
        "Details": json.dumps(e.detail, ensure_ascii=False, sort_keys=True, default=str),
    } for e in result.entries]), hide_index=True, width="stretch")
first, last = result.offset + 1, result.offset + len(result.entries)
shown = f"Entries {first}–{last} of {result.total}" if result.entries else f"{result.total} entries"
who_text = f" by {plain(names[picked_user])}" if picked_user is not None else ""
st.caption(f"{shown}{who_text}; page {page_number} of {result.pages}.")
st.number_input("Page", min_value=1, max_value=result.pages, step=1, key=PAGE_KEY)
