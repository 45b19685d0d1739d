"""Two ingest runs on one dataset share the work: one claim per clip, unique temporary folders, atomic renames."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from annotation.ingest.importer import import_parsed, scan_folder
from cluelab.bootstrap import init_database
from core.settings import get_settings
from core.vocabulary import ClipStatus, Role
from db.engine import get_engine
from db.models import Clip, Dataset, User, utcnow
from db.queries import clips as clip_queries
from tests.media_factory import make_video

ROOT = Path(__file__).resolve().parents[2]


def _lead() -> User:
    return User(username="lead", password_hash="!", roles=[Role.lead.value])


def test_one_claim_per_clip_and_dead_claims_are_taken_over(db_engine):
    with Session(db_engine, expire_on_commit=False) as session:
        dataset = Dataset(name="claims")
        session.add(dataset)
        session.flush()
        clip = Clip(dataset_id=dataset.id, name="a", source_path="/x/a.mp4")
        session.add(clip)
        session.commit()
    later = utcnow() - timedelta(minutes=10)
    with Session(db_engine, expire_on_commit=False) as first, Session(db_engine, expire_on_commit=False) as second:
        won = clip_queries.claim_clip(first, clip_id=clip.id, owner="run-1", stale_before=later)
        first.commit()
        lost = clip_queries.claim_clip(second, clip_id=clip.id, owner="run-2", stale_before=later)
        second.commit()
    assert won is not None and (won.status, won.claimed_by) == (ClipStatus.processing.value, "run-1")
    assert lost is None
    with Session(db_engine) as session:
        # The same run (a resumed job) takes its own claim back; a claim older than the timeout is anyone's.
        assert clip_queries.claim_clip(session, clip_id=clip.id, owner="run-1", stale_before=later) is not None
        assert clip_queries.claim_clip(session, clip_id=clip.id, owner="run-3", stale_before=utcnow()) is not None
        assert clip_queries.claimed_clip(session, clip_id=clip.id, owner="run-1") is None  # it lost the clip
        assert clip_queries.release_claims(session, clip_ids=[clip.id], owner="run-1") == 0
        assert clip_queries.release_claims(session, clip_ids=[clip.id], owner="run-3") == 1
        session.commit()
        assert session.get(Clip, clip.id).status == ClipStatus.pending.value


@pytest.mark.slow  # two `cluelab ingest` processes
def test_two_ingest_runs_in_parallel_process_every_clip_exactly_once(tmp_path: Path):
    init_database()
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(8):
        make_video(folder / f"clip_{i}.mp4", seconds=2.0, tone_hz=200 + 40 * i)
    with Session(get_engine(), expire_on_commit=False) as session:
        dataset = Dataset(name="shared")
        session.add(dataset)
        session.commit()
        import_parsed(session, dataset=dataset, parsed=scan_folder(folder), user=_lead())
        session.commit()

    command = [sys.executable, "-m", "cluelab.cli", "ingest", "--dataset", "shared", "--workers", "2"]
    runs = [subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=240)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs

    with Session(get_engine()) as session:
        clips = session.exec(select(Clip)).all()
    assert {c.name: c.status for c in clips} == {f"clip_{i}": ClipStatus.ready.value for i in range(8)}, \
        {c.name: c.error for c in clips}
    ready = [int(re.search(r"(\d+) clip\(s\) ready", out).group(1)) for out in outputs]
    assert sum(ready) == 8, outputs  # each clip processed by exactly one of the two runs
    media = get_settings().data_dir / "media"
    assert not [p.name for p in media.iterdir() if ".partial" in p.name]
    for clip in clips:
        assert (get_settings().data_dir / clip.video_path).is_file()
