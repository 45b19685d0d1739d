"""The lead's loop in headless Chromium with a real job worker: adjudicate a clip whose clues hold decimals
and Mandarin (stored byte-identical), train on the consensus, promote, then train again and meet the
confirmation guard ("not better than the active version") before "Promote anyway"."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys

import pytest
from sqlmodel import Session

from cluelab.bootstrap import init_database
from core.settings import get_settings
from db.engine import get_engine
from db.models import Clip, Dataset, ModelVersion
from db.queries import model_versions as q
from db.queries.consensus import current_consensus
from db.queries.users import create_user
from tests.annotation.factories_consensus import make_annotation
from tests.browser.conftest import ARTIFACTS, ROOT, sign_in, start_app
from tests.model.conftest import add_labelled_clips, synthetic_features

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "violet-anchor-71-drums"
CLUES = {"facial": "AU12 0.52 at 1.5 s: the corners of the mouth rise.", "vocal": "音量比中位数高 9 dB。",
         "scene": "A bright, sunny room."}


def test_adjudicate_train_and_promote_with_the_guard(browser_page):
    init_database()
    engine = get_engine()
    with Session(engine, expire_on_commit=False) as session:
        create_user(session, username="lead", password=PASSWORD, roles=["lead"])
        annotators = [create_user(session, username=f"ann{i}", password=PASSWORD, roles=["annotator"])
                      for i in range(2)]
        dataset = Dataset(name="synthetic", language="en", overlap=2)
        session.add(dataset)
        session.commit()
    add_labelled_clips(engine, dataset_id=dataset.id, start=0, count=36)
    with Session(engine, expire_on_commit=False) as session:
        clip = Clip(dataset_id=dataset.id, name="clip-wait", status="ready", duration=4.0)
        session.add(clip)
        session.flush()
        q.save_features(session, clip_id=clip.id, features=synthetic_features("happy", random.Random(7)))
        for who in annotators:
            make_annotation(session, clip, who, emotion="happy", clues=CLUES)
        session.commit()
    env = {**os.environ, "CLUELAB_DATA_DIR": str(get_settings().data_dir)}
    worker = subprocess.Popen([sys.executable, "-m", "cluelab.cli", "worker", "--workers", "1"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    process, url = start_app(get_settings().data_dir)
    page = browser_page
    try:
        sign_in(page, "lead", PASSWORD, url=url)
        page.get_by_text("What to do next").wait_for(timeout=30_000)

        page.get_by_role("link", name="Adjudicate", exact=True).first.click()
        page.get_by_text("1 of 1 waiting").wait_for(timeout=90_000)
        page.get_by_role("button", name="Accept proposal").click()
        page.get_by_role("button", name="Undo").wait_for(timeout=30_000)
        with Session(engine) as session:
            accepted = current_consensus(session, clip_id=clip.id)
            assert {a: accepted.clues[a].encode() for a in CLUES} == {a: t.encode() for a, t in CLUES.items()}

        page.get_by_role("link", name="Models", exact=True).first.click()
        train = page.get_by_role("button", name="Train on consensus")
        train.wait_for(timeout=90_000)
        train.click()
        # No reload: the page follows the job and shows the version when it ends.
        page.get_by_role("heading", name="Versions").wait_for(timeout=240_000)
        with Session(engine) as session:
            trained = [v for v in session.query(ModelVersion).filter(ModelVersion.dataset_id == dataset.id)
                       if v.snapshot.get("consensus_ids")]
            assert len(trained) == 1
            first = trained[0]
            assert accepted.id in first.snapshot["consensus_ids"]
        page.get_by_text(f"Confusion — {first.name}").wait_for(timeout=30_000)  # chosen: the newest
        page.get_by_role("button", name="Promote", exact=True).click()
        page.get_by_text("is active", exact=False).first.wait_for(timeout=60_000)
        with Session(engine) as session:
            assert session.get(ModelVersion, first.id).is_active

        page.get_by_role("button", name="Train on consensus").click()
        second = None
        page.wait_for_timeout(2_000)
        for _ in range(240):
            with Session(engine) as session:
                second = next((v for v in session.query(ModelVersion).filter(ModelVersion.id > first.id)
                               if v.snapshot.get("consensus_ids")), None)
            if second:
                break
            page.wait_for_timeout(1_000)
        assert second, "the second training did not finish"
        page.get_by_text(f"Confusion — {second.name}").wait_for(timeout=60_000)  # the page followed the job
        page.get_by_role("button", name="Promote", exact=True).click()
        page.get_by_role("button", name="Promote anyway").wait_for(timeout=60_000)
        assert page.get_by_text("not better", exact=False).count() >= 1
        with Session(engine) as session:
            assert session.get(ModelVersion, first.id).is_active  # the guard held
        page.get_by_role("button", name="Promote anyway").click()
        page.get_by_text("is active", exact=False).first.wait_for(timeout=60_000)
        with Session(engine) as session:
            assert session.get(ModelVersion, second.id).is_active
            assert current_consensus(session, clip_id=clip.id).clues["vocal"].encode() == CLUES["vocal"].encode()
        page.screenshot(path=str(ARTIFACTS / "lead-loop-promoted.png"), full_page=True)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "lead-loop-failed.png"), full_page=True)
        raise
    finally:
        for child in (process, worker):
            os.killpg(child.pid, signal.SIGTERM)
        for child in (process, worker):
            child.wait(timeout=30)
