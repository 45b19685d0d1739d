"""Weak passwords and odd names are refused by the account functions the pages and the CLI call."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from annotation.accounts import (
    AccountError,
    change_own_password,
    create_account,
    generate_password,
    reset_password,
)
from cluelab.bootstrap import DEMO_USERS, ensure_demo_users
from db.queries.users import authenticate, create_user, get_user_by_name

STRONG = "violet-anchor-71-drums"


@pytest.fixture
def admin(db_engine):
    with Session(db_engine, expire_on_commit=False) as session:
        user = create_user(session, username="boss", password=STRONG, roles=["admin"])
        session.commit()
        yield session, user


@pytest.mark.parametrize("password", ["password", "12345678", " " * 8, " " * 12, "password1234", "qwertyuiop",
                                      "newperson", "newperson1"])
def test_weak_passwords_are_refused(admin, password):
    session, actor = admin
    with pytest.raises(AccountError, match="password"):
        create_account(session, actor=actor, username="newperson", password=password, roles=["annotator"])
    assert get_user_by_name(session, username="newperson") is None


def test_a_strong_password_is_accepted(admin):
    session, actor = admin
    user = create_account(session, actor=actor, username="newperson", password="sandy lantern orbit",
                          roles=["annotator"])
    assert user.id is not None


@pytest.mark.parametrize("username", ["ab", "a" * 33, "a" * 100, "ann\x00x", "ann\nx", "ann x", "anné", "<b>x</b>",
                                      "[x](javascript:alert(1))"])
def test_odd_usernames_are_refused_with_a_clear_message(admin, username):
    session, actor = admin
    with pytest.raises(AccountError, match="3–32 characters"):
        create_account(session, actor=actor, username=username, password=STRONG, roles=["annotator"])


def test_usernames_are_lower_case_and_unique_whatever_the_case(admin):
    session, actor = admin
    user = create_account(session, actor=actor, username="  Alice.B ", password=STRONG, roles=["annotator"])
    assert user.username == "alice.b"
    with pytest.raises(AccountError, match="taken"):
        create_account(session, actor=actor, username="ALICE.B", password=STRONG, roles=["annotator"])
    with pytest.raises(AccountError, match="taken"):
        create_account(session, actor=actor, username="Boss", password=STRONG, roles=["annotator"])
    # Signing in ignores case too.
    assert authenticate(session, username="Alice.B", password=STRONG).id == user.id


def test_the_database_refuses_names_differing_only_in_case(admin):
    import sqlalchemy as sa

    from db.models import User

    session, _actor = admin
    session.add(User(username="BOSS", password_hash="x", roles=["annotator"]))
    with pytest.raises(sa.exc.IntegrityError):
        session.flush()
    session.rollback()


@pytest.mark.parametrize("display_name", ["x" * 65, "Ann\x00", "Ann\nBee", "Ann\u202eeB", "tab\there"])
def test_display_names_are_limited(admin, display_name):
    session, actor = admin
    with pytest.raises(AccountError, match="display name"):
        create_account(session, actor=actor, username="ann", password=STRONG, roles=["annotator"],
                       display_name=display_name)


def test_a_100_character_name_is_a_clear_error_not_a_database_error(admin):
    session, actor = admin
    with pytest.raises(AccountError):
        create_account(session, actor=actor, username="n" * 100, password=STRONG, roles=["annotator"],
                       display_name="d" * 100)


def test_admin_set_and_generated_passwords_follow_the_policy(admin):
    session, actor = admin
    user = create_account(session, actor=actor, username="ann", password=STRONG, roles=["annotator"])
    with pytest.raises(AccountError):
        reset_password(session, actor=actor, user_id=user.id, password="12345678")
    generated = reset_password(session, actor=actor, user_id=user.id)
    assert authenticate(session, username="ann", password=generated) is not None
    assert all(len(generate_password(username="x")) >= 10 for _ in range(20))


def test_self_service_change_follows_the_policy(admin):
    session, actor = admin
    with pytest.raises(AccountError, match="current password"):
        change_own_password(session, actor=actor, current_password="wrong one here", new_password=STRONG + "x",
                            client="c")
    with pytest.raises(AccountError, match="easy to guess|at least 10"):
        change_own_password(session, actor=actor, current_password=STRONG, new_password="password", client="c")


def test_demo_accounts_get_passwords_that_pass_the_policy(sqlite_engine):
    from annotation.accounts import check_password

    with Session(sqlite_engine) as session:
        with pytest.raises(AccountError):
            ensure_demo_users(session, {"admin": "12345678"})
        session.rollback()
        created = ensure_demo_users(session)
        assert set(created) == {name for name, _ in DEMO_USERS}
        for name, password in created.items():
            check_password(password, username=name)
