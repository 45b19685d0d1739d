"""Every public domain function that writes (its own unit of work) or checks a role, called by every role
and by nobody: the roles the table below does not allow get PermissionDenied, and nothing is written.

The functions are found by reading annotation/'s source (tests/security/write_functions.py), so a new
one fails `test_every_guarded_function_has_an_entry` until it gets a row here.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, func, select

from annotation.labelling.annotate import AnnotationInput
from annotation.permissions import PermissionDenied
from annotation.studies import create_study, set_study_status
from cluelab.bootstrap import init_database
from core.vocabulary import Role, StudyKind
from db.engine import get_engine
from db.models import Dataset, Job, StudyItem, User
from tests.security.write_functions import checks_role, guarded_functions, writes
from tests.studies.factories import build_world

A, L, R = Role.annotator, Role.lead, Role.researcher
ADMIN_ONLY: frozenset[Role] = frozenset()  # admins hold every role, so an empty set means "admins only"

# Who may call each function, besides admins (who may call all). Keep in step with the code: a change of
# roles is a decision, and this table is where a reviewer sees it.
ALLOWED: dict[str, frozenset[Role]] = {
    "annotation.accounts:create_account": ADMIN_ONLY,
    "annotation.accounts:list_accounts": ADMIN_ONLY,
    "annotation.accounts:reset_password": ADMIN_ONLY,
    "annotation.accounts:set_account_active": ADMIN_ONLY,
    "annotation.accounts:set_account_roles": ADMIN_ONLY,
    "annotation.audit_log:actions": frozenset({L}),
    "annotation.audit_log:people": frozenset({L}),
    "annotation.audit_log:search": frozenset({L}),
    "annotation.datasets:create_dataset": frozenset({L}),
    "annotation.datasets:import_into": frozenset({L}),
    "annotation.datasets:retry_errored_clips": frozenset({L}),
    "annotation.datasets:set_transcript_source": frozenset({L}),
    "annotation.datasets:save_uploads": frozenset({L}),
    "annotation.formats.export_service:export_dataset": frozenset({L, R}),
    "annotation.formats.export_service:write_export_zip": frozenset({L, R}),
    "annotation.formats.service:import_file": frozenset({L}),
    "annotation.formats.service:import_files": frozenset({L}),
    "annotation.formats.service:save_data_uploads": frozenset({L}),
    "annotation.ingest.importer:import_parsed": frozenset({L}),
    "annotation.ingest.pipeline:ingest_clips": frozenset({L}),
    "annotation.jobs:cancel": frozenset({L}),  # and the job's owner (not one of the callers here)
    "annotation.jobs:enqueue": frozenset({L}),  # the kind's roles: "ingest" here
    "annotation.labelling.adjudication:accept": frozenset({L}),
    "annotation.labelling.adjudication:auto_accept": frozenset({L}),
    "annotation.labelling.adjudication:send_back": frozenset({L}),
    "annotation.labelling.adjudication:undo_accept": frozenset({L}),
    "annotation.labelling.annotate:datasets_for": frozenset({A, L}),
    "annotation.labelling.annotate:edit_submission": frozenset({A}),
    "annotation.labelling.annotate:load_clip_task": frozenset({A}),
    "annotation.labelling.annotate:my_work": frozenset({A}),
    "annotation.labelling.annotate:recent_submissions": frozenset({A}),
    "annotation.labelling.annotate:undo_submit": frozenset({A}),
    "annotation.labelling.annotate:save_draft": frozenset({A}),
    "annotation.labelling.annotate:skip": frozenset({A}),
    "annotation.labelling.annotate:submit": frozenset({A}),
    "annotation.labelling.coverage:clip_coverage": frozenset({L}),
    "annotation.labelling.coverage:coverage_summary": frozenset({L}),
    "annotation.labelling.llm_merge:propose_llm_merge": frozenset({L}),
    "annotation.labelling.outcomes:my_outcomes": frozenset({A}),
    "annotation.labelling.queue:assign_clips": frozenset({L}),
    "annotation.labelling.queue:cached_dataset_progress": frozenset({L}),
    "annotation.labelling.queue:dataset_progress": frozenset({L}),
    "annotation.labelling.queue:list_annotators": frozenset({L}),
    "annotation.labelling.queue:next_lease": frozenset({A}),
    "annotation.labelling.queue:release": frozenset({A}),
    "annotation.labelling.queue:set_overlap": frozenset({L}),
    "annotation.labelling.queue:set_strategy": frozenset({L}),
    "annotation.preference:answer": frozenset({A, L, R}),  # raters of the study (an open one invites all three)
    "annotation.preference:pair_verdicts": frozenset({L, R}),
    "annotation.studies:blind_clip": frozenset({A, L, R}),
    "annotation.studies:create_study": frozenset({L, R}),
    "annotation.studies:rate": frozenset({A, L, R}),
    "annotation.studies:set_study_status": frozenset({L}),  # and the study's owner (not one of the callers here)
}

# Writes that check no role, and why that is right.
OPEN: dict[str, str] = {
    "annotation.accounts:authenticate": "signing in: the password is the proof",
    "annotation.accounts:sign_in": "signing in: the password is the proof",
    "annotation.accounts:change_own_password": "the caller's own account, proven by the current password",
    "annotation.sessions:end_session": "signing out: the session token is the proof",
    "annotation.sessions:redeem_handoff": "the one-time code from sign-in is the proof",
}

CALLERS = ["annotator", "lead", "researcher", "admin", "inactive-admin", None]  # None: nobody signed in


def test_every_guarded_function_has_an_entry():
    found = guarded_functions()
    missing = sorted(set(found) - set(ALLOWED) - set(OPEN))
    assert not missing, f"add these to ALLOWED (roles) or OPEN (why no role check) in {__file__}: {missing}"
    stale = sorted((set(ALLOWED) | set(OPEN)) - set(found))
    assert not stale, f"no longer found (renamed, removed or no longer a write?): {stale}"
    unchecked = sorted(name for name in ALLOWED if not checks_role(found[name]))
    assert not unchecked, f"listed with roles but checks none: {unchecked}"
    checked_open = sorted(name for name in OPEN if checks_role(found[name]))
    assert not checked_open, f"listed as open but checks a role: {checked_open}"


def test_the_finder_sees_the_writes_it_should():
    found = guarded_functions()
    assert writes(found["annotation.labelling.queue:set_overlap"])  # write_transaction inside
    assert writes(found["annotation.studies:rate"])  # @unit_of_work
    assert checks_role(found["annotation.preference:answer"])  # through _preference_study -> _require_rater
    assert "annotation.labelling.annotate:progress" not in found  # a read that checks nothing


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    init_database()
    engine = get_engine()
    with Session(engine, expire_on_commit=False) as session:
        built = build_world(session, clips=4, prefix="owner-")
        callers: dict[str | None, User | None] = {None: None}
        for name in CALLERS[:-1]:
            role = "admin" if name == "inactive-admin" else name
            callers[name] = User(username=name, password_hash="!", roles=[role], active=name != "inactive-admin")
            session.add(callers[name])
        session.commit()
        rating = create_study(session, user=built.researcher, dataset_id=built.dataset_id, name="rating",
                              systems=built.systems, clip_count=2, seed=1)
        set_study_status(session, user=built.researcher, study_id=rating.id, status="open")
        pairs = create_study(session, user=built.researcher, dataset_id=built.dataset_id, name="pairs",
                             systems=built.systems[:2], clip_count=2, seed=1, kind=StudyKind.preference.value)
        set_study_status(session, user=built.researcher, study_id=pairs.id, status="open")
        item = session.exec(select(StudyItem).where(StudyItem.study_id == rating.id)).first()
        job = Job(kind="ingest", params={"dataset_id": built.dataset_id}, created_by_id=built.researcher.id,
                  run_as_id=built.researcher.id)
        session.add(job)
        session.commit()
        upload = tmp_path / "data.csv"
        upload.write_text("names,emotions\nclip00,happy\n", encoding="utf-8")
        return {"callers": callers, "dataset": session.get(Dataset, built.dataset_id), "clip_id": built.clip_ids[0],
                "rating_study": rating.id, "preference_study": pairs.id, "item_id": item.id, "job_id": job.id,
                "other_user": built.raters[0].id, "file": upload, "tmp": tmp_path}


def arguments(name: str, world: dict[str, Any]) -> dict[str, Any]:
    """Every argument a function needs, by parameter name (a few functions read a name differently)."""
    d = world["dataset"]
    by_name: dict[str, Any] = {
        "username": "newperson", "password": "a-long-password-1", "roles": ["annotator"], "user_id": world["other_user"],
        "active": False, "name": "a name", "dataset_id": d.id, "dataset": d, "source": world["tmp"],
        "files": [("a.csv", b"names\nx\n")], "uploads_dir": world["tmp"], "max_bytes": 1000,
        "format": "consensus-csv", "path": world["file"], "paths": [world["file"]], "media_dir": None,
        "parsed": None, "job_id": world["job_id"], "kind": "ingest", "proposal": None, "clip_id": world["clip_id"],
        "annotation_id": 1, "expected_version": 1, "values": AnnotationInput(), "reason": "other",
        "clues_by_aspect": {}, "language": "en", "clip_ids": [world["clip_id"]], "annotator_ids": [],
        "overlap": 2, "strategy": "random", "study_id": world["rating_study"], "rank": 0, "choice": "A",
        "systems": ["consensus", "reference:emer-gt"], "clip_count": 1, "seed": 0, "item_id": world["item_id"],
        "rating": 3, "status": "closed", "consensus_id": 1, "exports_dir": world["tmp"] / "exports",
    }
    special: dict[str, dict[str, Any]] = {
        "annotation.formats.export_service:export_dataset": {"source": "consensus", "path": world["tmp"] / "out.csv"},
        "annotation.formats.export_service:write_export_zip": {"source": "consensus"},
        "annotation.datasets:set_transcript_source": {"source": "given"},
        "annotation.formats.service:import_file": {"source": None},
        "annotation.formats.service:import_files": {"source": None},
        "annotation.ingest.importer:import_parsed": {"parsed": _parsed()},
        "annotation.preference:answer": {"study_id": world["preference_study"]},
        "annotation.preference:pair_verdicts": {"study_id": world["preference_study"]},
    }
    return {**by_name, **special.get(name, {})}


def _parsed():  # noqa: ANN202
    from annotation.ingest.records import ClipRecord, ParsedImport

    return ParsedImport(clips=[ClipRecord(name="new-clip")])


def call(name: str, fn: Any, caller: User | None, world: dict[str, Any]) -> Any:
    values = arguments(name, world)
    args, kwargs = [], {}
    with Session(get_engine(), expire_on_commit=False) as session:
        for param in inspect.signature(fn).parameters.values():
            if param.name == "session":
                args.append(session)
            elif param.name in ("user", "actor"):
                kwargs[param.name] = caller
            elif param.default is not inspect.Parameter.empty:
                continue
            elif param.name not in values:
                raise AssertionError(f"{name}: say what to pass as {param.name!r} in arguments()")
            elif param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
                args.append(values[param.name])
            else:
                kwargs[param.name] = values[param.name]
        return fn(*args, **kwargs)


def snapshot() -> dict[str, int]:
    """Row counts of the tables a refused call might have touched."""
    from db.models import ALL_TABLES

    with Session(get_engine()) as session:
        return {t.__tablename__: session.exec(select(func.count()).select_from(t)).one() for t in ALL_TABLES}


def may_call(name: str, caller: str | None) -> bool:
    if caller is None or caller == "inactive-admin":
        return False
    return caller == "admin" or Role(caller) in ALLOWED[name]


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_roles_not_allowed_are_refused(world, name: str):
    fn = guarded_functions()[name]
    refused = [caller for caller in CALLERS if not may_call(name, caller)]
    assert None in refused and "inactive-admin" in refused
    for caller in refused:
        before = snapshot()
        with pytest.raises(PermissionDenied):
            call(name, fn, world["callers"][caller], world)
        after = snapshot()
        assert after == before, f"{name} refused {caller} but wrote {set(after.items()) - set(before.items())}"
