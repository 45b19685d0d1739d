"""Sign-in sessions: a signed token that survives a reload and that sign-out, a password change or
deactivation end at once; the secret that signs them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from annotation import sessions
from annotation.accounts import change_own_password, reset_password, set_account_active, sign_in
from core.settings import get_settings
from db.models import AuditLog, utcnow
from db.queries.users import create_user

PASSWORD = "violet-anchor-71-drums"


@pytest.fixture
def people(db_engine):
    with Session(db_engine, expire_on_commit=False) as session:
        admin = create_user(session, username="boss", password=PASSWORD, roles=["admin"])
        ann = create_user(session, username="ann", password=PASSWORD, roles=["annotator"])
        session.commit()
        yield session, admin, ann


def _token(session, name="ann", client="browser-1"):
    result = sign_in(session, username=name, password=PASSWORD, client=client, user_agent="pytest")
    assert result.user is not None, result.message
    return result.token


def test_a_token_signs_in_again_until_sign_out_revokes_it(people):
    session, _admin, ann = people
    token = _token(session)
    assert sessions.resume(session, token=token).id == ann.id
    assert sessions.resume(session, token=token).id == ann.id  # a second tab, a reload
    assert sessions.end_session(session, token=token)
    assert sessions.resume(session, token=token) is None
    row = sessions.sessions_of(session, user_id=ann.id)[0]
    assert row.revoke_reason == "signed_out" and row.user_agent == "pytest"
    actions = session.exec(select(AuditLog.action)).all()
    assert "sign_in" in actions and "sign_out" in actions


def test_deactivation_and_password_resets_revoke_every_session(people):
    session, admin, ann = people
    first, second = _token(session, client="a"), _token(session, client="b")
    set_account_active(session, actor=admin, user_id=ann.id, active=False)
    assert sessions.resume(session, token=first) is None and sessions.resume(session, token=second) is None
    set_account_active(session, actor=admin, user_id=ann.id, active=True)
    assert sessions.resume(session, token=first) is None  # reactivating does not revive old sessions
    third = _token(session)
    reset_password(session, actor=admin, user_id=ann.id)
    assert sessions.resume(session, token=third) is None


def test_changing_ones_own_password_ends_other_sessions_and_keeps_this_browser(people):
    session, _admin, ann = people
    here, elsewhere = _token(session, client="here"), _token(session, client="elsewhere")
    fresh = change_own_password(session, actor=ann, current_password=PASSWORD, new_password="copper kettle meadow",
                                client="here")
    assert sessions.resume(session, token=here) is None
    assert sessions.resume(session, token=elsewhere) is None
    assert sessions.resume(session, token=fresh).id == ann.id


def test_expired_forged_and_foreign_tokens_do_not_work(people):
    session, _admin, _ann = people
    token = _token(session)
    later = utcnow() + timedelta(days=get_settings().session_days, seconds=1)
    assert sessions.resume(session, token=token, now=later) is None
    assert sessions.resume(session, token=token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]) is None
    assert sessions.resume(session, token="") is None and sessions.resume(session, token=None) is None
    # A token signed with another secret (another installation) is refused before any lookup.
    other = sessions.URLSafeTimedSerializer("another-secret-" * 4, salt="cluelab.session").dumps("x" * 43)
    assert sessions.resume(session, token=other) is None


def test_last_seen_is_updated_at_most_once_a_minute(people):
    session, _admin, ann = people
    token = _token(session)
    row = sessions.sessions_of(session, user_id=ann.id)[0]
    first_seen = row.last_seen_at
    sessions.resume(session, token=token, now=first_seen + timedelta(seconds=10))
    session.expire_all()
    assert sessions.sessions_of(session, user_id=ann.id)[0].last_seen_at == first_seen
    sessions.resume(session, token=token, now=first_seen + timedelta(minutes=2))
    session.expire_all()
    assert sessions.sessions_of(session, user_id=ann.id)[0].last_seen_at > first_seen


def test_the_cookie_hand_off_code_works_once(people):
    session, _admin, _ann = people
    token = _token(session)
    code = sessions.handoff_code(token)
    assert sessions.redeem_handoff(session, code=code) == token
    assert sessions.redeem_handoff(session, code=code) is None
    assert sessions.redeem_handoff(session, code="forged") is None


def test_the_secret_is_generated_once_into_the_data_dir(monkeypatch):
    monkeypatch.delenv("CLUELAB_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    first = sessions.signing_secret()
    path = get_settings().data_dir / "secret_key"
    assert path.read_text() == first and len(first) >= 48
    assert path.stat().st_mode & 0o077 == 0
    sessions._secret_in.cache_clear()
    assert sessions.signing_secret() == first


@pytest.mark.parametrize("secret", ["change-me", "secret", "short-but-random-9f3"])
def test_a_default_or_short_secret_is_refused_outside_dev(monkeypatch, secret):
    monkeypatch.setenv("CLUELAB_SECRET_KEY", secret)
    get_settings.cache_clear()
    with pytest.raises(sessions.SecretKeyRefused, match="CLUELAB_SECRET_KEY"):
        sessions.signing_secret()
    monkeypatch.setenv("CLUELAB_DEV", "1")
    get_settings.cache_clear()
    assert sessions.signing_secret() == secret
