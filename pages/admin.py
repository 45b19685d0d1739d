"""Users (admin): create accounts, set roles, reset passwords, deactivate."""

import pandas as pd
import streamlit as st

from annotation.accounts import (
    MIN_PASSWORD_LENGTH,
    AccountError,
    create_account,
    list_accounts,
    reset_password,
    set_account_active,
    set_account_roles,
)
from components.navigation import guard
from components.text import plain
from components.times import when
from core.vocabulary import Role

actor = guard("pages/admin.py")
ROLE_NAMES = [r.value for r in Role]
st.title("Users")

accounts = list_accounts(actor=actor)
st.dataframe(pd.DataFrame([{"username": u.username, "name": u.display_name, "roles": ", ".join(u.roles),
                            "active": u.active, "created": when(u.created_at)} for u in accounts]),
             hide_index=True, width="stretch")

create, edit = st.columns(2)
with create:
    st.subheader("New account")
    # The form keeps what was typed when the account is refused; only a created account clears it.
    if st.session_state.pop("admin.clear_form", False):
        for field in ("admin.new_username", "admin.new_display_name", "admin.new_password"):
            st.session_state[field] = ""
        st.session_state["admin.new_roles"] = ["annotator"]
    if created := st.session_state.pop("admin.created", None):
        st.success(f"Created {plain(created)}.")
    with st.form("create_user", clear_on_submit=False):
        username = st.text_input("Username", key="admin.new_username")
        display_name = st.text_input("Display name", key="admin.new_display_name")
        roles = st.multiselect("Roles", ROLE_NAMES, default=["annotator"], key="admin.new_roles")
        password = st.text_input(f"Password ({MIN_PASSWORD_LENGTH}+ characters)", type="password",
                                 key="admin.new_password",
                                 help="At least 10 characters and hard to guess: a few unrelated words or a random "
                                      "string. Usernames: 3–32 of a–z, 0–9, '.', '_', '-'.")
        if st.form_submit_button("Create", type="primary"):
            try:
                create_account(actor=actor, username=username, password=password, roles=roles,
                               display_name=display_name)
                st.session_state["admin.clear_form"] = True
                st.session_state["admin.created"] = username
                st.rerun()
            except AccountError as error:
                st.error(plain(error))

with edit:
    st.subheader("Change an account")
    by_name = {u.username: u for u in accounts}
    target = by_name[st.selectbox("Account", list(by_name))]
    new_roles = st.multiselect("Roles", ROLE_NAMES, default=target.roles, key=f"roles_{target.id}")
    save_roles, reset, toggle = st.columns(3)
    try:
        if save_roles.button("Save roles"):
            set_account_roles(actor=actor, user_id=target.id, roles=new_roles)
            st.success("Roles saved.")
            st.rerun()
        if reset.button("Reset password"):
            password = reset_password(actor=actor, user_id=target.id)
            st.info(f"New password for {plain(target.username)} (shown once; their sessions are ended): "
                    f"`{password}`")
        if toggle.button("Deactivate" if target.active else "Activate"):
            set_account_active(actor=actor, user_id=target.id, active=not target.active)
            st.rerun()
    except AccountError as error:
        st.error(plain(error))
