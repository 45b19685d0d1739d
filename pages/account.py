"""My account: change your own password (your other browsers are signed out)."""

import streamlit as st

from annotation.accounts import MIN_PASSWORD_LENGTH, AccountError
from components.navigation import guard
from components.session import change_password
from components.text import plain

user = guard("pages/account.py")
st.title("My account")
st.caption(f"Signed in as {plain(user.username)}" + (f" ({plain(user.display_name)})" if user.display_name else "")
           + f" · roles: {', '.join(user.roles)}")

st.subheader("Change password")
with st.form("change_password", clear_on_submit=True):
    current = st.text_input("Current password", type="password", autocomplete="current-password")
    new = st.text_input(f"New password ({MIN_PASSWORD_LENGTH}+ characters, hard to guess)", type="password",
                        autocomplete="new-password")
    repeat = st.text_input("New password again", type="password", autocomplete="new-password")
    submitted = st.form_submit_button("Change password", type="primary")
if submitted:
    if new != repeat:
        st.error("The two new passwords differ.")
    else:
        try:
            change_password(user, current, new)
        except AccountError as error:
            st.error(plain(error))
        else:
            st.success("Password changed. Your other browsers and devices are signed out.")
