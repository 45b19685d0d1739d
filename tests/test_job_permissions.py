"""Who may queue, cancel and retry a job, and whom a job runs as."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from annotation import jobs
from annotation.permissions import PermissionDenied
from cluelab.bootstrap import init_database
from cluelab.console import cli_actor
from core import jobs as runtime
from core.jobs import JobContext, job
from core.vocabulary import JobState, Role
from db.engine import get_engine
from db.models import AuditLog, User


@job("test-whoami", roles=(Role.lead, Role.researcher))
def whoami_job(ctx: JobContext, *, fail: bool = False) -> dict:
    """Says whom it ran as; fails on request, so it can be retried."""
    if fail:
        raise RuntimeError("asked to fail")
    return {"ran_as": ctx.acting_user().username}


@job("test-leads-only", roles=(Role.lead,))
def leads_only_job(ctx: JobContext) -> dict:
    return {"ran_as": ctx.acting_user().username}


@pytest.fixture
def people() -> dict[str, User]:
    init_database()
    with Session(get_engine(), expire_on_commit=False) as session:
        made = {name: User(username=name, password_hash="!", roles=[role])
                for name, role in (("lead", "lead"), ("lead2", "lead"), ("researcher", "researcher"),
                                   ("annotator", "annotator"), ("admin", "admin"))}
        session.add_all(made.values())
        session.commit()
    return made


def _audit(action: str) -> list[AuditLog]:
    with Session(get_engine()) as session:
        return list(session.exec(select(AuditLog).where(AuditLog.action == action)).all())


def test_every_job_kind_declares_the_roles_it_needs():
    kinds = runtime.load_job_modules()
    assert {"ingest", "predict", "extract-features", "train", "evaluate", "auto-accept", "evaluate-sources"} <= set(kinds)
    for kind, spec in kinds.items():
        assert spec.roles, f"{kind} declares no roles"
    assert kinds["ingest"].roles == (Role.lead,)
    with pytest.raises(ValueError, match="roles"):
        job("test-no-roles", roles=())(lambda ctx: None)


def test_enqueue_refuses_a_user_without_the_kinds_roles(people):
    with pytest.raises(PermissionDenied, match="lead"):
        jobs.enqueue("ingest", params={"dataset_id": 1}, user=people["researcher"])
    with pytest.raises(PermissionDenied):
        jobs.enqueue("predict", params={"dataset_id": 1}, user=people["annotator"])
    with pytest.raises(PermissionDenied):
        jobs.enqueue("evaluate-sources", params={}, user=None)
    assert jobs.list_jobs() == []
    job_id = jobs.enqueue("test-whoami", user=people["researcher"])
    assert jobs.run_job_inline(job_id).result["ran_as"] == "researcher"
    # The command line acts as an admin.
    cli_job = jobs.enqueue("test-leads-only", user=cli_actor())
    assert jobs.run_job_inline(cli_job).result["ran_as"] == "cli"


def test_the_worker_refuses_a_job_whose_user_lost_the_role(people):
    job_id = jobs.enqueue("test-leads-only", user=people["lead"])
    with Session(get_engine()) as session:
        lead = session.get(User, people["lead"].id)
        lead.roles = [Role.annotator.value]
        session.add(lead)
        session.commit()
    row = jobs.run_job_inline(job_id)
    assert row.state == JobState.failed.value
    assert "lead" in row.error and "needs" in row.error and "Traceback" not in row.error


def test_a_researcher_may_not_cancel_or_retry_a_leads_job(people):
    running = jobs.enqueue("test-whoami", user=people["lead"])
    with pytest.raises(PermissionDenied):
        jobs.cancel(job_id=running, actor=people["researcher"])
    assert jobs.get_job(running).state == JobState.queued.value

    failed = jobs.enqueue("test-whoami", params={"fail": True}, user=people["lead"])
    assert jobs.run_job_inline(failed).state == JobState.failed.value
    with pytest.raises(PermissionDenied):
        jobs.retry(job_id=failed, actor=people["researcher"], inline=True)
    assert jobs.get_job(failed).state == JobState.failed.value
    assert _audit("retry_job") == [] and _audit("cancel_job") == []


def test_owners_cancel_their_own_jobs_and_leads_anyones(people):
    mine = jobs.enqueue("test-whoami", user=people["researcher"])
    jobs.cancel(job_id=mine, actor=people["researcher"])
    assert jobs.get_job(mine).state == JobState.cancelled.value
    theirs = jobs.enqueue("test-whoami", user=people["researcher"])
    jobs.cancel(job_id=theirs, actor=people["lead"])
    assert jobs.get_job(theirs).state == JobState.cancelled.value
    rows = _audit("cancel_job")
    assert [(r.entity_id, r.user_id) for r in rows] == [(mine, people["researcher"].id), (theirs, people["lead"].id)]


def test_a_retry_runs_as_the_person_who_retried_it(people):
    job_id = jobs.enqueue("test-whoami", params={"fail": True}, user=people["researcher"])
    assert jobs.run_job_inline(job_id).state == JobState.failed.value
    with Session(get_engine()) as session:  # fix the job so the retry succeeds
        from db.queries import jobs as job_queries

        job_queries.change_job(session, job_id=job_id, change=lambda row: setattr(row, "params", {}))
        session.commit()
    jobs.retry(job_id=job_id, actor=people["lead2"], inline=True)
    row = jobs.get_job(job_id)
    assert row.state == JobState.done.value and row.result["ran_as"] == "lead2"
    assert row.created_by_id == people["researcher"].id and row.run_as_id == people["lead2"].id
    (entry,) = _audit("retry_job")
    assert entry.user_id == people["lead2"].id and entry.entity_id == job_id


def test_a_retry_needs_the_kinds_roles_even_from_the_owner(people):
    job_id = jobs.enqueue("test-leads-only", user=people["lead"])
    jobs.cancel(job_id=job_id, actor=people["lead"])
    with Session(get_engine()) as session:
        lead = session.get(User, people["lead"].id)
        lead.roles = [Role.researcher.value]
        session.add(lead)
        session.commit()
        lead = session.get(User, people["lead"].id)
    with pytest.raises(PermissionDenied, match="lead"):
        jobs.retry(job_id=job_id, actor=lead, inline=True)


def test_the_command_line_retries_as_admin(people):
    job_id = jobs.enqueue("test-leads-only", user=people["lead"])
    jobs.cancel(job_id=job_id, actor=cli_actor())
    jobs.retry(job_id=job_id, actor=cli_actor(), inline=True)
    row = jobs.get_job(job_id)
    assert row.state == JobState.done.value and row.result["ran_as"] == "cli"
    (entry,) = _audit("retry_job")
    assert entry.user_id is None and entry.detail["actor"] == "cli"
