"""Guessing passwords is throttled per account and per client, in the database, with an injectable clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from annotation.accounts import sign_in
from core.vocabulary import SignInRefusal
from db.models import AuditLog, utcnow
from db.queries.users import create_user

PASSWORD = "violet-anchor-71-drums"


@pytest.fixture
def session(db_engine):
    with Session(db_engine, expire_on_commit=False) as session:
        create_user(session, username="ann", password=PASSWORD, roles=["annotator"])
        session.commit()
        yield session


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self, seconds: float = 0.0):
        self.now += timedelta(seconds=seconds)
        return self.now


def attempt(session, clock, password, *, client="attacker", name="ann", after=0.0):
    return sign_in(session, username=name, password=password, client=client, now=clock(after))


def test_thirty_fast_guesses_then_the_right_password_is_refused(session):
    clock = Clock()
    results = [attempt(session, clock, f"guess-{i}", after=0.24) for i in range(30)]  # 30 in 7.2 s
    checked = [r for r in results if r.refusal == SignInRefusal.wrong_credentials]
    assert len(checked) < 10, "a growing delay should refuse most fast guesses unchecked"
    refused = [r for r in results if r.refusal in (SignInRefusal.slow_down, SignInRefusal.locked)]
    assert refused and all(r.retry_after > 0 for r in refused)
    right = attempt(session, clock, PASSWORD, after=0.24)
    assert right.user is None and right.refusal == SignInRefusal.slow_down
    assert "wait" in right.message
    # Waiting out the delay, the right password works, and a success resets this client's count.
    right = attempt(session, clock, PASSWORD, after=right.retry_after + 0.01)
    assert right.user is not None
    assert attempt(session, clock, "wrong again", after=0.1).refusal == SignInRefusal.wrong_credentials
    assert attempt(session, clock, "wrong again", after=0.1).refusal == SignInRefusal.wrong_credentials


def test_a_lock_after_n_failures_expires(session):
    clock = Clock()
    for _ in range(10):  # patient guesses, each after the delay
        result = attempt(session, clock, "nope nope nope", after=61)
        assert result.refusal == SignInRefusal.wrong_credentials
    locked = attempt(session, clock, PASSWORD, after=61)
    assert locked.refusal == SignInRefusal.locked and "locked" in locked.message
    assert 0 < locked.retry_after <= 15 * 60
    assert attempt(session, clock, PASSWORD, after=locked.retry_after + 1).user is not None
    actions = session.exec(select(AuditLog.action)).all()
    assert actions.count("sign_in_failed") == 10
    assert "sign_in_locked" in actions and "sign_in_refused" in actions and "sign_in" in actions


def small_limits(monkeypatch, **limits):
    """Lower thresholds (each guess costs an argon2 hash): the rule is the same at any size."""
    from core.settings import get_settings

    for name, value in limits.items():
        monkeypatch.setenv(f"CLUELAB_SIGNIN_{name.upper()}", str(value))
    get_settings.cache_clear()


def test_many_clients_cannot_lock_the_owner_out_of_their_usual_client(session, monkeypatch):
    small_limits(monkeypatch, account_lock_failures=6)
    clock = Clock()
    assert attempt(session, clock, PASSWORD, client="owner-laptop").user is not None
    for i in range(6):  # a distributed attack: a new client for every guess
        attempt(session, clock, "spray", client=f"bot-{i}", after=1)
    fresh_bot = attempt(session, clock, PASSWORD, client="bot-new", after=1)
    assert fresh_bot.refusal == SignInRefusal.locked  # the account is locked for unknown clients…
    assert attempt(session, clock, PASSWORD, client="owner-laptop", after=1).user is not None  # …not for its owner


def test_one_client_spraying_many_accounts_is_locked(session, monkeypatch):
    small_limits(monkeypatch, client_lock_failures=8)
    clock = Clock()
    for i in range(8):
        attempt(session, clock, "Winter2026!", name=f"user{i}", after=1)
    assert attempt(session, clock, PASSWORD, after=1).refusal == SignInRefusal.locked
    assert attempt(session, clock, PASSWORD, client="someone-else", after=1).user is not None


def test_unknown_names_are_throttled_like_known_ones(session):
    clock = Clock()
    results = [attempt(session, clock, "x", name="ghost", after=0.1) for _ in range(6)]
    assert results[0].message == "Wrong username or password."
    assert any(r.refusal == SignInRefusal.slow_down for r in results)
