"""Sign in."""

import streamlit as st

from components.session import sign_in

st.title("ClueLab")
st.caption("Annotate and review explainable multimodal emotion recognition.")
with st.form("sign_in", clear_on_submit=False):
    username = st.text_input("Username", autocomplete="username")
    password = st.text_input("Password", type="password", autocomplete="current-password")
    submitted = st.form_submit_button("Sign in", type="primary")
if submitted:
    if not username or not password:
        st.error("Enter your username and password.")
    else:
        result = sign_in(username, password)
        if result.user is None:
            st.error(result.message)
        else:
            st.rerun()
