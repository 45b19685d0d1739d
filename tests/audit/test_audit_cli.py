"""`cluelab audit`: the log from the command line, filtered, as a table or JSON lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlmodel import Session
from typer.testing import CliRunner

from cluelab.bootstrap import init_database
from cluelab.cli import app
from db.engine import get_engine
from db.models import AuditLog, User

runner = CliRunner()


def seed() -> dict[str, int]:
    init_database()
    with Session(get_engine()) as session:
        ann = User(username="ann", password_hash="!", roles=["annotator"])
        lead = User(username="lead", password_hash="!", roles=["lead"])
        session.add_all([ann, lead])
        session.flush()
        rows = [
            (ann.id, "submit_annotation", "annotation", 1, {"clip_id": 10}, datetime(2026, 3, 1, 9, 0, tzinfo=UTC)),
            (ann.id, "skip_clip", "annotation", 2, {"clip_id": 11, "reason": "other"},
             datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
            (lead.id, "set_overlap", "dataset", 1, {"overlap": 3, "before": 1}, datetime(2026, 3, 2, 23, 59, tzinfo=UTC)),
            (None, "export", "dataset", 1, {"actor": "cli", "format": "[red]emer-v1[/red]"},
             datetime(2026, 3, 3, 8, 0, tzinfo=UTC)),
        ]
        for user_id, action, entity, entity_id, detail, at in rows:
            session.add(AuditLog(user_id=user_id, action=action, entity=entity, entity_id=entity_id, detail=detail,
                                 at=at))
        session.commit()
        return {"ann": ann.id, "lead": lead.id}


def lines(result) -> list[dict]:  # noqa: ANN001
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.strip()]


def test_table_newest_first_with_every_column():
    seed()
    result = runner.invoke(app, ["audit"])
    assert result.exit_code == 0, result.output
    text = result.output
    for header in ("when (UTC)", "user", "action", "target", "details"):
        assert header in text
    assert text.index("export") < text.index("set_overlap") < text.index("skip_clip") < text.index("submit_annotation")
    assert "dataset #1" in text and "2026-03-03 08:00:00" in text
    assert "[red]emer-v1[/red]" in text  # stored text is printed as typed, never as Rich markup
    assert "4 entries." in text


def test_json_and_filters():
    ids = seed()
    every = lines(runner.invoke(app, ["audit", "--json"]))
    assert [e["action"] for e in every] == ["export", "set_overlap", "skip_clip", "submit_annotation"]
    assert every[0] == {"id": every[0]["id"], "at": "2026-03-03T08:00:00+00:00", "actor": "cli", "user_id": None,
                        "action": "export", "entity": "dataset", "entity_id": 1, "target": "dataset #1",
                        "detail": {"actor": "cli", "format": "[red]emer-v1[/red]"}}

    mine = lines(runner.invoke(app, ["audit", "--json", "--user", "ann"]))
    assert [(e["actor"], e["user_id"]) for e in mine] == [("ann", ids["ann"])] * 2
    assert [e["action"] for e in lines(runner.invoke(app, ["audit", "--json", "--action", "skip_clip"]))] == \
        ["skip_clip"]
    # --since and --until take days (the until day is kept whole) or moments, in UTC.
    day = lines(runner.invoke(app, ["audit", "--json", "--since", "2026-03-02", "--until", "2026-03-02"]))
    assert [e["action"] for e in day] == ["set_overlap", "skip_clip"]
    moment = lines(runner.invoke(app, ["audit", "--json", "--since", "2026-03-02T12:00", "--until",
                                       "2026-03-03T08:00"]))
    assert [e["action"] for e in moment] == ["set_overlap"]
    assert [e["action"] for e in lines(runner.invoke(app, ["audit", "--json", "--limit", "1"]))] == ["export"]
    assert lines(runner.invoke(app, ["audit", "--json", "--user", "lead", "--action", "skip_clip"])) == []


def test_bad_input_is_one_clear_line():
    seed()
    unknown = runner.invoke(app, ["audit", "--user", "nobody"])
    assert unknown.exit_code == 1 and "no user named 'nobody'" in unknown.output
    bad_date = runner.invoke(app, ["audit", "--since", "yesterday"])
    assert bad_date.exit_code == 1 and "not a date: 'yesterday'" in bad_date.output
    too_many = runner.invoke(app, ["audit", "--limit", "0"])
    assert too_many.exit_code == 2
