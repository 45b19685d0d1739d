"""ClueLab's entry point: sign-in, then the pages the user's roles allow."""

from __future__ import annotations

import streamlit as st

from cluelab.bootstrap import init_database
from components.navigation import NAV_EXPANDED, role_names, sections_for
from components.session import current_user, sign_out, sync_cookie
from components.text import plain
from core.settings import get_settings


@st.cache_resource
def _database_ready(_url: str) -> bool:
    # A fresh data directory works on first visit: migrate once per server process.
    init_database()
    return True


st.set_page_config(page_title="ClueLab", page_icon=":material/psychology:", layout="wide")
_database_ready(get_settings().sqlalchemy_url)
user = current_user()

if user is None:
    page = st.navigation([st.Page("pages/login.py", title="Sign in", icon=":material/login:")])
else:
    sections = {name: [st.Page(spec.path, title=spec.title, icon=spec.icon, default=spec.path == "pages/home.py")
                       for spec in specs] for name, specs in sections_for(user).items()}
    page = st.navigation(sections, expanded=NAV_EXPANDED)
    with st.sidebar:
        st.markdown(f"**{plain(user.display_name or user.username)}**  \n{role_names(user)}")
        if st.button("Sign out", icon=":material/logout:"):
            sign_out()
            st.rerun()
sync_cookie()
page.run()
