"""Accounts: argon2 hashes, wrong passwords refused, admin-only actions enforced in domain code."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from annotation.accounts import create_account, reset_password, set_account_roles
from annotation.datasets import create_dataset
from annotation.permissions import PermissionDenied
from core.vocabulary import Role
from db.queries.users import AccountError, authenticate, create_user


def test_passwords_are_argon2_and_checked(db_engine):
    with Session(db_engine) as session:
        user = create_user(session, username="ann", password="correct horse", roles=[Role.annotator])
        assert user.password_hash.startswith("$argon2")
        assert "correct horse" not in user.password_hash
        assert authenticate(session, username="ann", password="correct horse").id == user.id
        assert authenticate(session, username="ann", password="wrong password") is None
        assert authenticate(session, username="nobody", password="correct horse") is None


def test_inactive_users_cannot_sign_in(sqlite_engine):
    with Session(sqlite_engine) as session:
        user = create_user(session, username="ann", password="12345678", roles=["annotator"])
        user.active = False
        assert authenticate(session, username="ann", password="12345678") is None


def test_account_rules(sqlite_engine):
    with Session(sqlite_engine) as session:
        create_user(session, username="a", password="12345678", roles=["annotator"])
        with pytest.raises(AccountError, match="taken"):
            create_user(session, username="a", password="12345678", roles=["annotator"])
        with pytest.raises(AccountError, match="at least 8"):
            create_user(session, username="b", password="short", roles=["annotator"])
        with pytest.raises(AccountError, match="unknown role"):
            create_user(session, username="c", password="12345678", roles=["wizard"])
        with pytest.raises(AccountError, match="at least one role"):
            create_user(session, username="d", password="12345678", roles=[])


def test_annotator_cannot_call_lead_or_admin_functions(sqlite_engine):
    with Session(sqlite_engine) as session:
        annotator = create_user(session, username="ann", password="12345678", roles=[Role.annotator])
        admin = create_user(session, username="boss", password="12345678", roles=[Role.admin])
        with pytest.raises(PermissionDenied, match="needs the admin role"):
            create_account(session, actor=annotator, username="x", password="12345678", roles=["lead"])
        with pytest.raises(PermissionDenied):
            set_account_roles(session, actor=annotator, user_id=annotator.id, roles=["admin"])
        with pytest.raises(PermissionDenied):
            reset_password(session, actor=annotator, user_id=admin.id)
        with pytest.raises(PermissionDenied, match="needs the lead role"):
            create_dataset(session, actor=annotator, name="mine")
        # An admin may do all of it, and a new password works at once.
        new_password = reset_password(session, actor=admin, user_id=annotator.id)
        assert authenticate(session, username="ann", password=new_password) is not None
        assert create_dataset(session, actor=admin, name="theirs").id is not None


def test_admin_cannot_lock_themselves_out(sqlite_engine):
    with Session(sqlite_engine) as session:
        admin = create_user(session, username="boss", password="12345678", roles=[Role.admin])
        with pytest.raises(AccountError, match="own admin role"):
            set_account_roles(session, actor=admin, user_id=admin.id, roles=["lead"])
