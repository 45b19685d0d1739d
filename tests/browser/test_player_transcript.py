"""The player in Chromium: the transcript reads exactly as written, words seek, estimated times are said so."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, start_app, stop_app

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
TEXT = "“走吧。”他说：好的！"
WORDS = [{"word": "走", "start": 0.5, "end": 0.8, "timing": "aligned", "at": 1},
         {"word": "吧", "start": 0.8, "end": 1.1, "timing": "aligned", "at": 2},
         {"word": "他", "start": 2.0, "end": 2.2, "timing": "estimated", "at": 5},
         {"word": "说", "start": 2.2, "end": 2.4, "timing": "aligned", "at": 6},
         {"word": "好的", "start": 2.6, "end": 3.0, "timing": "aligned", "at": 8}]
ENTRY = f"""
import os, types
from pathlib import Path
from components.player import player

clip = types.SimpleNamespace(id=1, video_path=None, audio_path="voice.wav", has_video=False, has_audio=True,
                             duration=4.0, peaks=[], transcript={TEXT!r}, transcript_words={WORDS!r},
                             transcript_source="manifest", meta={{"transcript_timing": "estimated"}})
player(clip, data_dir=Path(os.environ["PLAYER_DATA"]))
"""


@pytest.fixture
def served(tmp_path: Path):
    if not Path(CHROMIUM).exists():
        pytest.skip("needs /usr/bin/chromium")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=220:sample_rate=16000:duration=4",
                    "-ac", "1", str(tmp_path / "voice.wav")], check=True)
    entry = tmp_path / "entry.py"
    entry.write_text(ENTRY)
    process, url = start_app(tmp_path, entry, env={"PLAYER_DATA": str(tmp_path)})
    yield url
    stop_app(process)


def test_transcript_reads_exactly_and_estimated_times_are_noted(served):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        try:
            page.goto(served)
            words = page.locator(".cl-words")
            expect(words).to_be_visible(timeout=60_000)
            assert words.inner_text().strip() == TEXT
            expect(page.locator(".cl-word.cl-estimated", has_text="他")).to_have_count(1)
            expect(page.locator(".cl-word.cl-estimated")).to_have_count(1)
            expect(page.locator(".cl-timing-note")).to_contain_text("estimated")
            audio = page.locator("audio")
            page.wait_for_function("() => [...document.querySelectorAll('*')].map(e => e.shadowRoot)"
                                   ".filter(Boolean).concat([document]).some(r => { const a = r.querySelector('audio');"
                                   " return a && a.readyState >= 1; })", timeout=30_000)
            page.locator(".cl-word", has_text="好的").click()
            page.wait_for_timeout(300)
            assert audio.evaluate("a => a.currentTime") == pytest.approx(2.6, abs=0.15)
        finally:
            browser.close()
