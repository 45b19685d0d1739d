"""The annotate flow in headless Chromium against a real `streamlit run`.

A prepared data directory holds a migrated SQLite database, one annotator, a
dataset with a real H.264/AAC MP4 (made with ffmpeg), its waveform peaks, a
word-timed transcript and a model prediction with clue spans. The page runs
behind a one-page `st.navigation` entry that signs the prepared user in, as
the app's router does after login.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import Session, select

from core.vocabulary import ASPECTS
from db.engine import make_engine
from db.migrate import upgrade_to_head
from db.models import Annotation, Clip, Dataset, ModelVersion, Prediction, User
from tests.browser.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, ROOT, start_app, stop_app

pytestmark = pytest.mark.browser

WORDS = [("I", 0.2, 0.4), ("really", 0.5, 0.9), ("did", 1.0, 1.3), ("not", 1.4, 1.7), ("expect", 1.8, 2.3),
         ("this", 2.4, 2.7), ("today", 2.8, 3.4)]

ENTRY = """
import os
import streamlit as st

st.session_state.setdefault("user_id", int(os.environ["CLUELAB_BROWSER_USER_ID"]))
st.navigation([st.Page(os.environ["CLUELAB_BROWSER_PAGE"], title="Annotate")]).run()
"""


def make_mp4(path: Path, seconds: float = 4.0) -> None:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size=320x240:rate=25:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=16000:duration={seconds}",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast", "-c:a", "aac", "-shortest",
         "-movflags", "+faststart", str(path)],
        check=True,
    )


def peaks_of(path: Path, buckets: int = 200) -> list[float]:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "-ar", "8000", "-"],
                         check=True, capture_output=True).stdout
    samples = np.abs(np.frombuffer(raw, dtype=np.int16).astype(np.float32) / 32768.0)
    return [round(float(chunk.max()), 4) for chunk in np.array_split(samples, buckets)]


@pytest.fixture
def prepared(tmp_path: Path):
    if shutil.which("ffmpeg") is None or not Path(CHROMIUM).exists():
        pytest.skip("needs ffmpeg and /usr/bin/chromium")
    data_dir = tmp_path / "data"
    (data_dir / "media").mkdir(parents=True)
    make_mp4(data_dir / "media" / "clip1.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=220:sample_rate=16000:duration=4",
                    "-ac", "1", str(data_dir / "media" / "voice.wav")], check=True)
    engine = make_engine(f"sqlite:///{data_dir / 'cluelab.db'}")
    upgrade_to_head(engine)
    with Session(engine, expire_on_commit=False) as session:
        user = User(username="ann", password_hash="x", roles=["annotator"])
        dataset = Dataset(name="browser", overlap=1)
        session.add_all([user, dataset])
        session.flush()
        clips = [
            Clip(dataset_id=dataset.id, name=f"clip{i}", status="ready", has_video=True, has_audio=True,
                 video_path="media/clip1.mp4", duration=4.0, width=320, height=240,
                 peaks=peaks_of(data_dir / "media" / "clip1.mp4"),
                 transcript=" ".join(w for w, *_ in WORDS),
                 transcript_words=[{"word": w, "start": s, "end": e} for w, s, e in WORDS])
            for i in (1, 2)
        ]
        # Served after clip1 (by falling uncertainty): an audio-only clip, then a text-only one.
        clips[1].name, clips[1].has_video, clips[1].video_path = "voice-only", False, None
        clips[1].audio_path = "media/voice.wav"
        text_only = Clip(dataset_id=dataset.id, name="text-only", status="ready", transcript="Fine. Whatever you say.")
        clips.append(text_only)
        session.add_all(clips)
        version = ModelVersion(backend="baseline", name="v1", is_active=True, dataset_id=dataset.id)
        session.add(version)
        session.flush()
        for i, clip in enumerate(clips):
            session.add(Prediction(
                clip_id=clip.id, model_version_id=version.id, emotion="surprise", uncertainty=1.0 - i / 10,
                distribution={"surprise": 0.55, "happy": 0.3, "neutral": 0.15},
                clues={"facial": "Raised brows and an open mouth.", "vocal": "A steady tone with rising pitch.",
                       "verbal": "Says they did not expect this.", "scene": "A plain, bright test pattern."},
                spans=[{"aspect": "facial", "start": 0.5, "end": 1.5, "label": "brows"},
                       {"aspect": "vocal", "start": 1.8, "end": 3.0, "label": "pitch"},
                       {"aspect": "verbal", "start": 0.2, "end": 3.4, "label": "words"}],
            ))
        session.commit()
    engine.dispose()
    entry = tmp_path / "entry.py"
    entry.write_text(ENTRY)
    return data_dir, entry, user.id, clips[0].id


@pytest.fixture
def server(prepared):
    data_dir, entry, user_id, clip_id = prepared
    process, url = start_app(data_dir, entry, env={
        "CLUELAB_BROWSER_USER_ID": str(user_id), "CLUELAB_BROWSER_PAGE": str(ROOT / "pages" / "annotate.py")})
    yield url, data_dir, clip_id
    stop_app(process)


def current_time(page) -> float:
    return page.locator("video").evaluate("v => v.currentTime")


def test_annotate_flow_in_chromium(server):
    from playwright.sync_api import expect, sync_playwright

    url, data_dir, clip_id = server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 2000})
        try:
            page.goto(url)
            expect(page.get_by_role("heading", name="clip1")).to_be_visible(timeout=60_000)
            video = page.locator("video")
            expect(video).to_be_attached(timeout=30_000)
            page.wait_for_function("() => { const v = document.querySelector('video') ||"
                                   " [...document.querySelectorAll('*')].map(e => e.shadowRoot)"
                                   ".filter(Boolean).map(r => r.querySelector('video')).find(Boolean);"
                                   " return v && v.readyState >= 1; }", timeout=30_000)
            assert current_time(page) == pytest.approx(0.0, abs=0.05)

            # Clicking a transcript word seeks the video to that word.
            page.locator(".cl-word", has_text="expect").click()
            page.wait_for_timeout(300)
            assert current_time(page) == pytest.approx(1.8, abs=0.15)
            expect(page.locator(".cl-word.cl-now", has_text="expect")).to_be_visible()
            # Clicking the waveform seeks too (three quarters in: ~3 s).
            wave = page.locator("canvas.cl-wave")
            box = wave.bounding_box()
            wave.click(position={"x": box["width"] * 0.75, "y": box["height"] / 2})
            page.wait_for_timeout(300)
            assert current_time(page) == pytest.approx(3.0, abs=0.2)

            # Edit two aspects; leaving the box autosaves.
            facial = page.get_by_role("textbox", name="Facial expression & body", exact=True)
            facial.fill("Raised brows, eyes wide, a quick smile at the end.")
            facial.press("Tab")
            verbal = page.get_by_role("textbox", name="Speech content", exact=True)
            verbal.fill("Says they did not expect this, sounding pleased.")
            verbal.press("Tab")
            expect(page.locator("ins", has_text="smile")).to_be_visible(timeout=15_000)
            # Emotion by keyboard shortcut (Alt+3 = happy), rating by click.
            page.evaluate("() => document.activeElement && document.activeElement.blur()")
            page.keyboard.press("Alt+3")
            expect(page.locator(".st-key-emo_2 button[kind='primary']").first).to_be_visible(timeout=15_000)
            page.locator(".st-key-rate_3 button").first.click()
            expect(page.locator(".st-key-rate_3 button[kind='primary']").first).to_be_visible(timeout=15_000)
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / "annotate.png"), full_page=True)

            page.get_by_role("button", name="Submit and next").click()
            expect(page.get_by_text("Submitted clip1").first).to_be_visible(timeout=30_000)
            # Next: an audio-only clip plays in an audio element, and its words seek it.
            expect(page.get_by_role("heading", name="voice-only")).to_be_visible(timeout=30_000)
            audio = page.locator("audio")
            expect(audio).to_be_attached(timeout=30_000)
            expect(page.locator("video")).to_have_count(0)
            page.wait_for_function("() => [...document.querySelectorAll('*')].map(e => e.shadowRoot)"
                                   ".filter(Boolean).some(r => { const a = r.querySelector('audio');"
                                   " return a && a.readyState >= 1; })", timeout=30_000)
            page.locator(".cl-word", has_text="today").click()
            page.wait_for_timeout(300)
            assert audio.evaluate("a => a.currentTime") == pytest.approx(2.8, abs=0.15)
            page.screenshot(path=str(ARTIFACTS / "annotate-audio-only.png"), full_page=True)
            # Skip it with a reason; then a text-only clip shows its transcript and says there is no media.
            page.get_by_role("combobox", name="Skip reason").click()
            page.get_by_role("option", name="Bad media").click()
            page.get_by_role("button", name="Skip (Alt+K)").click()
            expect(page.get_by_role("heading", name="text-only")).to_be_visible(timeout=30_000)
            expect(page.get_by_text("Text-only clip: no audio or video.")).to_be_visible()
            expect(page.get_by_text("Fine. Whatever you say.")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "annotate-text-only.png"), full_page=True)
        finally:
            browser.close()

    engine = make_engine(f"sqlite:///{data_dir / 'cluelab.db'}")
    with Session(engine) as session:
        stored = session.exec(select(Annotation).where(Annotation.clip_id == clip_id)).one()
        skipped = session.exec(select(Annotation).where(Annotation.status == "skipped")).one()
    engine.dispose()
    assert skipped.skip_reason == "bad_media"
    assert stored.status == "submitted"
    assert stored.clues["facial"] == "Raised brows, eyes wide, a quick smile at the end."
    assert stored.clues["verbal"] == "Says they did not expect this, sounding pleased."
    assert stored.clues["scene"] == "A plain, bright test pattern."
    assert (stored.emotion, stored.rating) == ("happy", 3)
    assert stored.seconds_spent > 0
    assert {a.value for a in ASPECTS} == set(stored.clues)
