"""Fixtures for the model tests: an app database behind get_engine(), media made on the fly."""

from __future__ import annotations

import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from core.settings import get_settings
from db.engine import get_engine
from db.migrate import upgrade_to_head
from db.models import Clip, Consensus, Dataset
from db.queries import model_versions as q
from db.queries.users import create_user
from model.baseline.backend import EXTRACTOR_VERSIONS


@pytest.fixture
def app_db(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The configured database (what domain code reaches through get_engine), migrated; SQLite by default."""
    backend = getattr(request, "param", "sqlite")
    if backend == "postgres":
        request.getfixturevalue("postgres_engine")  # empties the database after the test
        monkeypatch.setenv("DATABASE_URL", request.getfixturevalue("postgres_url"))
        get_settings.cache_clear()
    engine = get_engine()
    upgrade_to_head(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def lead(app_db: Engine):
    from sqlmodel import Session

    with Session(app_db, expire_on_commit=False) as session:
        user = create_user(session, username="lena", password="correct horse 1", roles=["lead"])
        session.commit()
        return user


@pytest.fixture
def annotator(app_db: Engine):
    from sqlmodel import Session

    with Session(app_db, expire_on_commit=False) as session:
        user = create_user(session, username="ann", password="correct horse 2", roles=["annotator"])
        session.commit()
        return user


LEARNABLE = ("happy", "sad", "angry")
CLUE_STYLE = {
    "happy": "A bright, sunny room.",
    "sad": "A dark, gloomy room.",
    "angry": "A harsh, glaring room.",
}


def synthetic_features(emotion: str, rng: random.Random) -> dict[str, dict]:
    """Cached features where the emotion is learnable from scene light and pitch, cues the rule prior ignores."""
    brightness = {"happy": 0.8, "sad": 0.2, "angry": 0.5}[emotion] + rng.gauss(0, 0.07)
    range_st = {"happy": 2.0, "sad": 8.0, "angry": 5.0}[emotion] + rng.gauss(0, 1.0)
    return {
        "face": {"version": EXTRACTOR_VERSIONS["face"], "frames": 8, "frames_with_face": 8, "max_faces": 1,
                 "mean_faces": 1.0, "face_score": 0.9, "landmarks": 478, "au": {}, "head": {}, "expression": {}},
        "voice": {"version": EXTRACTOR_VERSIONS["voice"], "duration": 4.0, "has_voice": True, "speech_seconds": 3.0,
                  "speech_ratio": 0.75, "pauses": 0, "longest_pause": 0.0,
                  "pitch": {"median_hz": 180.0, "p95_hz": 200.0, "rise_pct": 10.0, "range_semitones": range_st,
                            "sd_semitones": 1.0, "end_slope_st_per_s": 0.0}},
        "speech": {"version": EXTRACTOR_VERSIONS["speech"], "text": "", "language": "en", "words": [], "syllables": 0},
        "text": {"version": EXTRACTOR_VERSIONS["text"], "language": "en", "sentiment": 0.0, "questions": 0,
                 "exclamations": 0, "emotion_words": [], "chars": 0, "embedding": []},
        "scene": {"version": EXTRACTOR_VERSIONS["scene"], "frames": 8, "brightness": brightness, "contrast": 0.2,
                  "saturation": 0.3, "hue_deg": 30.0, "colour": "orange", "warmth": 0.1, "motion": 0.01,
                  "cut_count": 0, "faces_max": 1, "faces_mean": 1.0, "text": []},
    }


def add_labelled_clips(engine: Engine, *, dataset_id: int, start: int, count: int, seed: int = 0) -> list[int]:
    """Clips with cached synthetic features and current consensus (emotion + scene clue in the team's words)."""
    from sqlmodel import Session

    rng = random.Random(seed + start)
    ids = []
    with Session(engine, expire_on_commit=False) as session:
        for n in range(start, start + count):
            emotion = LEARNABLE[n % 3]
            clip = Clip(dataset_id=dataset_id, name=f"clip-{n:04d}", status="ready", duration=4.0)
            session.add(clip)
            session.flush()
            q.save_features(session, clip_id=clip.id, features=synthetic_features(emotion, rng))
            session.add(Consensus(clip_id=clip.id, emotion=emotion, clues={"scene": CLUE_STYLE[emotion]}))
            ids.append(clip.id)
        session.commit()
    return ids


@pytest.fixture
def dataset(app_db: Engine) -> Dataset:
    from sqlmodel import Session

    with Session(app_db, expire_on_commit=False) as session:
        row = Dataset(name="synthetic", language="en")
        session.add(row)
        session.commit()
        return row


# --- media -------------------------------------------------------------------------


def espeak_wav(path: Path, text: str, voice: str | None = None) -> Path:
    """espeak-ng speech resampled to 16 kHz mono."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", *(["-v", voice] if voice else []), "-w", str(raw), text], check=True)
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(raw), "-ar", "16000", "-ac", "1", str(path)],
                   check=True)
    return path


def drawn_face(mouth_open: float = 0.3, *, size: tuple[int, int] = (480, 640)) -> np.ndarray:
    """A flat drawn face (ellipse head, eyes, brows, nose, mouth), RGB."""
    import cv2

    h, w = size
    image = np.full((h, w, 3), (200, 210, 190), np.uint8)
    cx, cy = w // 2, h // 2
    cv2.ellipse(image, (cx, cy), (110, 145), 0, 0, 360, (230, 200, 180), -1)
    for dx in (-45, 45):
        cv2.ellipse(image, (cx + dx, cy - 30), (20, 11), 0, 0, 360, (255, 255, 255), -1)
        cv2.circle(image, (cx + dx, cy - 30), 8, (20, 30, 40), -1)
    cv2.line(image, (cx - 70, cy - 55), (cx - 20, cy - 60), (30, 40, 60), 5)
    cv2.line(image, (cx + 20, cy - 60), (cx + 70, cy - 55), (30, 40, 60), 5)
    cv2.line(image, (cx, cy - 15), (cx - 8, cy + 25), (170, 130, 120), 3)
    cv2.ellipse(image, (cx, cy + 60), (45, 4 + int(20 * mouth_open)), 0, 0, 360, (170, 60, 60), -1)
    return image


def talking_clip(folder: Path, name: str, text: str, *, voice: str | None = None, seconds: float = 3.0,
                 fps: int = 10) -> dict[str, Path]:
    """An H.264 MP4 of a drawn face whose mouth moves, the espeak-ng speech as a 16 kHz WAV, and JPEG frames."""
    import av
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    wav = espeak_wav(folder / f"{name}.wav", text, voice)
    video = folder / f"{name}.mp4"
    frames_dir = folder / f"{name}-frames"
    frames_dir.mkdir(exist_ok=True)
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        for i in range(int(seconds * fps)):
            image = drawn_face(abs(np.sin(i / 2)))
            if i % 5 == 0:
                cv2.imwrite(str(frames_dir / f"{i // 5:04d}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return {"video": video, "audio": wav, "frames": frames_dir}


# --- tiny emotion-LLM checkpoints ---------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_llm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random checkpoints saved like real ones: the composition (LM, vision, audio) and a LLaVA-class model."""
    import torch

    from tests.model.llm_factory import build_composed, build_llava

    # Tiny models gain nothing from a second thread, and on a busy 2-core box OpenMP's spinning
    # threads make them several times slower.
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tiny-llm")
    return {**build_composed(root), "llava": build_llava(root)}


@pytest.fixture(scope="session")
def llm_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    """One-second talking clips: English, and Mandarin read by espeak-ng's pinyin voice."""
    root = tmp_path_factory.mktemp("llm-media")
    return {"en": talking_clip(root, "en", "I am so happy to see you again", seconds=1.0),
            "zh": talking_clip(root, "zh", "wo3 jin1 tian1 zhen1 de hen3 sheng1 qi4", voice="cmn-latn-pinyin",
                               seconds=1.0)}


def use_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
