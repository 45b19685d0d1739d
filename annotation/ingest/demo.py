"""The synthetic demo dataset: drawn faces that act an emotion, speaking through espeak-ng.

Generated deterministically on first use into `<data_dir>/demo/source/` (no
media in git). Each clip: a varied background scene, a drawn face whose brows,
eyes and mouth move from neutral to the target emotion, lips that follow the
speech, a sentence spoken with pitch and rate set per emotion (English, or
Mandarin through espeak-ng's pinyin voice), and its subtitle. The drawn face is
realistic enough for the face models (BlazeFace finds it, the landmarker fits
478 points), so the demo exercises the whole pipeline. It is labelled as synthetic everywhere.
"""

from __future__ import annotations

import csv
import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from annotation.ingest.media import ffmpeg_binary

WIDTH, HEIGHT, FPS = 640, 360, 25
# Face geometry in pixels, tuned so the face models read the drawn expressions (see tests).
EYE_HALF_HEIGHT = 5
BROW_GAP = 12
BROW_RAISE = 16
BROW_INNER = 14
SMILE = 14
DEMO_DATASET_NAME = "Demo (synthetic)"


@dataclass(frozen=True)
class Expression:
    """Face geometry at full intensity, each in [-1, 1]; 0 is neutral."""

    brow_raise: float  # up (+) or down (-)
    brow_inner: float  # inner ends up (+, sad/worried) or pulled down together (-, angry)
    eye_open: float  # wide (+) or narrowed (-)
    smile: float  # corners up (+) or down (-)
    mouth_open: float  # jaw drop beyond speech


@dataclass(frozen=True)
class Voice:
    pitch: int  # espeak-ng 0-99
    speed: int  # words per minute
    amplitude: int  # 0-200


EXPRESSIONS: dict[str, Expression] = {
    "neutral": Expression(0.0, 0.0, 0.0, 0.0, 0.0),
    "happy": Expression(0.2, 0.0, -0.15, 1.0, 0.25),
    "angry": Expression(-0.6, -1.0, -0.3, -0.35, 0.0),
    "sad": Expression(-0.1, 0.9, -0.5, -0.9, 0.0),
    "worried": Expression(0.25, 0.7, 0.2, -0.4, 0.05),
    "surprise": Expression(1.0, 0.2, 1.0, 0.0, 0.9),
}

VOICES: dict[str, Voice] = {
    "neutral": Voice(45, 155, 100),
    "happy": Voice(72, 180, 120),
    "angry": Voice(30, 185, 190),
    "sad": Voice(28, 120, 70),
    "worried": Voice(55, 165, 90),
    "surprise": Voice(85, 170, 140),
}

# (English text) or (Chinese subtitle, espeak-ng pinyin with tone digits), four per emotion.
SENTENCES: dict[str, list[tuple[str, str | None]]] = {
    "neutral": [("The meeting starts at nine tomorrow morning.", None),
                ("我们明天早上九点开会。", "wo3 men2 ming2 tian1 zao3 shang4 jiu3 dian3 kai1 hui4"),
                ("Please put the files on the table.", None),
                ("The train leaves from platform four.", None)],
    "happy": [("I got the job, I can't believe it!", None),
              ("太好了，我们赢了！", "tai4 hao3 le, wo3 men2 ying2 le"),
              ("This is the best day of my life.", None),
              ("You came! I'm so glad to see you.", None)],
    "angry": [("How dare you lie to me again!", None),
              ("你为什么不告诉我？", "ni3 wei4 shen2 me bu4 gao4 su4 wo3"),
              ("Get out of my house right now.", None),
              ("I told you a hundred times, stop it!", None)],
    "sad": [("She is gone, and she is not coming back.", None),
            ("我再也见不到他了。", "wo3 zai4 ye3 jian4 bu2 dao4 ta1 le"),
            ("I tried so hard, and it still was not enough.", None),
            ("Nobody remembered my birthday.", None)],
    "worried": [("What if the results come back bad?", None),
                ("他怎么还没回来？", "ta1 zen3 me hai2 mei2 hui2 lai2"),
                ("I don't know if we can pay the rent.", None),
                ("Do you think she is all right?", None)],
    "surprise": [("Wait, you did all of this for me?", None),
                 ("真的吗？我不敢相信！", "zhen1 de ma? wo3 bu4 gan3 xiang1 xin4"),
                 ("What? He is your brother?", None),
                 ("Oh! I did not expect to see you here.", None)],
}

SCENES = ("living room", "office", "street at dusk", "park", "kitchen", "night room")


@dataclass(frozen=True)
class DemoClip:
    name: str
    emotion: str
    text: str
    pinyin: str | None
    scene: str
    speaker: str

    @property
    def language(self) -> str:
        return "zh" if self.pinyin else "en"


# Clip names must not give the answer away: neither the emotion nor runs of one emotion in the numbering.
# Clip k (in SENTENCES order) is numbered (k * _STRIDE) % 24 + 1; the stride is prime to 24, so every
# number is used once and consecutive numbers jump between emotions. The true emotion stays only in the
# manifest's `emotion` column (the clip's source label, the demo's reference data).
_STRIDE = 7


def demo_clips() -> list[DemoClip]:
    """The 24 demo clips, in name order (demo_001 … demo_024)."""
    clips = []
    total = sum(len(sentences) for sentences in SENTENCES.values())
    for e_index, (emotion, sentences) in enumerate(SENTENCES.items()):
        for s_index, (text, pinyin) in enumerate(sentences):
            number = e_index * 4 + s_index
            clips.append(DemoClip(
                name=f"demo_{(number * _STRIDE) % total + 1:03d}", emotion=emotion, text=text, pinyin=pinyin,
                scene=SCENES[(number * 5) % len(SCENES)], speaker=f"speaker_{number % 3 + 1}"))
    return sorted(clips, key=lambda clip: clip.name)


def _speak(clip: DemoClip, wav: Path) -> None:
    voice = VOICES[clip.emotion]
    language = "cmn-latn-pinyin" if clip.pinyin else "en-us"
    command = ["espeak-ng", "-v", language, "-p", str(voice.pitch), "-s", str(voice.speed),
               "-a", str(voice.amplitude), "-w", str(wav), clip.pinyin or clip.text]
    subprocess.run(command, check=True, capture_output=True)


def _loudness_per_frame(wav: Path, frames: int, offset: float) -> np.ndarray:
    import soundfile

    samples, rate = soundfile.read(str(wav), dtype="float32", always_2d=False)
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    env = np.zeros(frames, dtype=np.float32)
    for i in range(frames):
        start = int((i / FPS - offset) * rate)
        end = start + rate // FPS
        if 0 <= start < samples.size:
            env[i] = float(np.sqrt(np.mean(samples[start:end] ** 2))) if end > start else 0.0
    top = env.max()
    return env / top if top > 0 else env


def _background(scene: str, rng: np.random.Generator) -> np.ndarray:
    import cv2

    image = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    base = {"living room": (150, 180, 205), "office": (200, 200, 190), "street at dusk": (90, 70, 120),
            "park": (235, 200, 140), "kitchen": (190, 225, 235), "night room": (60, 40, 35)}[scene]
    image[:] = base
    if scene in ("street at dusk", "park"):
        for y in range(HEIGHT // 2):  # sky gradient
            image[y] = np.clip(np.array(base) + (HEIGHT // 2 - y) // 3, 0, 255)
        ground = (70, 140, 80) if scene == "park" else (70, 70, 80)
        cv2.rectangle(image, (0, int(HEIGHT * 0.65)), (WIDTH, HEIGHT), ground, -1)
        for _ in range(4):
            x = int(rng.integers(0, WIDTH))
            cv2.rectangle(image, (x, int(HEIGHT * 0.3)), (x + 40, int(HEIGHT * 0.65)), (50, 60, 70), -1)
    else:
        cv2.rectangle(image, (40, 40), (200, 170), (235, 225, 200) if scene != "night room" else (90, 70, 40), -1)
        cv2.rectangle(image, (40, 40), (200, 170), (80, 80, 80), 3)  # a window or picture frame
        cv2.rectangle(image, (0, int(HEIGHT * 0.8)), (WIDTH, HEIGHT), tuple(int(c * 0.6) for c in base), -1)
        if scene == "office":
            cv2.rectangle(image, (440, 220), (640, 300), (60, 90, 120), -1)  # desk
    return image


def _draw_face(image: np.ndarray, expression: Expression, intensity: float, talk: float, blink: bool) -> None:
    import cv2

    e = Expression(*(intensity * v for v in (expression.brow_raise, expression.brow_inner,
                                             expression.eye_open, expression.smile, expression.mouth_open)))
    cx, cy = WIDTH // 2, HEIGHT // 2 + 5
    skin, dark = (150, 180, 225), (40, 40, 50)
    cv2.ellipse(image, (cx, HEIGHT + 40), (150, 110), 0, 180, 360, (90, 60, 50), -1)  # shoulders
    cv2.rectangle(image, (cx - 30, cy + 80), (cx + 30, cy + 130), skin, -1)  # neck
    cv2.ellipse(image, (cx, cy), (78, 100), 0, 0, 360, skin, -1)  # head
    cv2.ellipse(image, (cx, cy - 55), (82, 55), 0, 180, 360, (40, 50, 70), -1)  # hair
    for side in (-1, 1):
        ex, ey = cx + side * 30, cy - 15
        opening = 0 if blink else max(2, int(EYE_HALF_HEIGHT * (1 + 0.6 * e.eye_open)))
        cv2.ellipse(image, (ex, ey), (15, opening), 0, 0, 360, (245, 245, 245), -1)
        if opening > 2:
            cv2.circle(image, (ex, ey), min(7, opening), dark, -1)
        else:
            cv2.line(image, (ex - 14, ey), (ex + 14, ey), dark, 2)
        by = ey - BROW_GAP - int(BROW_RAISE * e.brow_raise)
        inner = (cx + side * 10, by - int(BROW_INNER * e.brow_inner))
        outer = (cx + side * 48, by + int(3 * e.brow_inner))
        cv2.line(image, inner, outer, dark, 5)
    cv2.line(image, (cx, cy - 5), (cx - 6, cy + 25), (110, 140, 190), 2)  # nose
    my = cy + 50
    corners = int(SMILE * e.smile)
    jaw = int(3 + 14 * max(talk, e.mouth_open))
    left, right = (cx - 28, my - corners), (cx + 28, my - corners)
    upper = np.array([left, (cx, my - 2), right], dtype=np.int32)
    lower = np.array([right, (cx, my + jaw + max(0, corners // 2)), left], dtype=np.int32)
    cv2.fillPoly(image, [np.concatenate([upper, lower])], (60, 50, 150))
    cv2.polylines(image, [upper], False, (50, 40, 120), 2)


def render_clip(clip: DemoClip, out_dir: Path, seed: int) -> Path:
    """Write `<name>.mp4` and `<name>.srt` into `out_dir`; returns the MP4 path."""
    rng = np.random.default_rng(seed)
    video = out_dir / f"{clip.name}.mp4"
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        _speak(clip, wav)
        import soundfile

        speech_seconds = soundfile.info(str(wav)).duration
        lead_in = 0.4
        duration = float(min(6.0, max(3.0, speech_seconds + lead_in + 0.6)))
        frames = int(round(duration * FPS))
        loudness = _loudness_per_frame(wav, frames, lead_in)
        background = _background(clip.scene, rng)
        expression = EXPRESSIONS[clip.emotion]
        blinks = set(int(x) for x in rng.integers(10, frames - 5, size=2))
        command = [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y",
                   "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{WIDTH}x{HEIGHT}", "-r", str(FPS), "-i", "-",
                   "-itsoffset", str(lead_in), "-i", str(wav),
                   "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                   "-c:a", "aac", "-b:a", "96k", "-af", "apad", "-t", f"{duration:.2f}", str(video)]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        assert process.stdin is not None
        for i in range(frames):
            t = i / FPS
            # Neutral at first, the emotion builds over the first 40% of the clip and holds.
            intensity = min(1.0, t / (0.4 * duration))
            frame = background.copy()
            sway = int(4 * math.sin(t * 1.3 + seed))
            _draw_face(frame, expression, intensity, float(loudness[i]), i in blinks or (i - 1) in blinks)
            if sway:
                frame = np.roll(frame, sway, axis=1)
            process.stdin.write(frame.tobytes())
        process.stdin.close()
        error = process.stderr.read().decode(errors="replace") if process.stderr else ""
        if process.wait() != 0:
            raise RuntimeError(f"ffmpeg failed for {clip.name}: {error}")
    start, end = lead_in, min(duration, lead_in + speech_seconds)
    (out_dir / f"{clip.name}.srt").write_text(
        f"1\n{_srt_time(start)} --> {_srt_time(end)}\n{clip.text}\n", encoding="utf-8")
    return video


def _srt_time(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def generate_demo_media(out_dir: Path, *, on_clip=None) -> Path:  # noqa: ANN001
    """Render every demo clip not rendered yet and write `manifest.csv`; returns the manifest path."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed: `apt-get install espeak-ng` (the README's run command does this)")
    out_dir.mkdir(parents=True, exist_ok=True)
    clips = demo_clips()
    for index, clip in enumerate(clips):
        video = out_dir / f"{clip.name}.mp4"
        if not video.exists() or not (out_dir / f"{clip.name}.srt").exists():
            render_clip(clip, out_dir, seed=index)
        if on_clip:
            on_clip(clip)
    manifest = out_dir / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "path", "subtitle", "emotion", "speaker", "language", "scene"])
        for clip in clips:
            writer.writerow([clip.name, f"{clip.name}.mp4", f"{clip.name}.srt", clip.emotion,
                             clip.speaker, clip.language, clip.scene])
    return manifest
