"""Sign-in throttling, kept in the database so every server process sees the same attempts.

Three counters, each over the last `signin_window_minutes`:

- one client on one account: after `signin_free_failures` failures each further try must
  wait twice as long as the last (1 s, 2 s, 4 s … up to `signin_max_delay_s`); at
  `signin_lock_failures` the pair is locked. A successful sign-in from that client resets it.
- one account from clients that have not signed in to it lately: at
  `signin_account_lock_failures` those clients are locked out of it; the owner's usual
  client (a success within `signin_trusted_days`) is not, so an attacker cannot lock them out.
- one client across accounts (password spraying): `signin_client_lock_failures`.

A lock ends `signin_lock_minutes` after the last failure; refused tries are not checked
and do not count, so a lock always expires. Client identity is what the caller passes
(the address, or the Streamlit session when no address is known).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from core.settings import get_settings
from core.vocabulary import SignInRefusal
from db.queries import sessions as session_queries

ATTEMPT_NAME_LENGTH = 64


def attempt_name(username: str) -> str:
    """How a typed name is counted: trimmed, lower case, cut to the column's length."""
    return username.strip().lower()[:ATTEMPT_NAME_LENGTH]


@dataclass(frozen=True)
class Verdict:
    refusal: SignInRefusal | None = None
    until: datetime | None = None
    scope: str = ""  # pair, account or client: which counter refused

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    def retry_after(self, now: datetime) -> float:
        return max(0.0, (self.until - now).total_seconds()) if self.until else 0.0


def check(session: Session, *, username: str, client: str, now: datetime) -> Verdict:
    """May this client try this name now? (`username` as `attempt_name` gives it.)"""
    s = get_settings()
    window_start = now - timedelta(minutes=s.signin_window_minutes)
    lock = timedelta(minutes=s.signin_lock_minutes)
    refusals: list[Verdict] = []

    last_ok = session_queries.last_success(session, username=username, client=client)
    pair = session_queries.failure_times(session, since=max(window_start, last_ok) if last_ok else window_start,
                                         username=username, client=client)
    if len(pair) >= s.signin_lock_failures:
        refusals.append(Verdict(SignInRefusal.locked, pair[-1] + lock, "pair"))
    elif len(pair) >= s.signin_free_failures and pair:
        delay = min(2.0 ** (len(pair) - s.signin_free_failures), s.signin_max_delay_s)
        refusals.append(Verdict(SignInRefusal.slow_down, pair[-1] + timedelta(seconds=delay), "pair"))

    trusted = session_queries.trusted_clients(session, username=username,
                                              since=now - timedelta(days=s.signin_trusted_days))
    if client not in trusted:
        account = session_queries.failure_times(session, since=window_start, username=username,
                                                exclude_clients=trusted)
        if len(account) >= s.signin_account_lock_failures:
            refusals.append(Verdict(SignInRefusal.locked, account[-1] + lock, "account"))

    spray = session_queries.failure_times(session, since=window_start, client=client)
    if len(spray) >= s.signin_client_lock_failures:
        refusals.append(Verdict(SignInRefusal.locked, spray[-1] + lock, "client"))

    live = [v for v in refusals if v.until is not None and v.until > now]
    if not live:
        return Verdict()
    return max(live, key=lambda v: (v.refusal == SignInRefusal.locked, v.until))


def record(session: Session, *, username: str, client: str, succeeded: bool, now: datetime) -> None:
    """Count a checked attempt; a success also forgets attempts too old to matter."""
    session_queries.add_attempt(session, username=username, client=client, succeeded=succeeded, now=now)
    if succeeded:
        s = get_settings()
        keep = max(timedelta(days=s.signin_trusted_days), timedelta(minutes=s.signin_window_minutes))
        session_queries.forget_attempts_before(session, before=now - keep)
