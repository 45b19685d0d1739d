"""What the `openai` backend sends per clip, and how it reads the answers.

A clip's request carries frames sampled evenly over the clip as JPEG data URIs (from ingest's frames
folder, else decoded from the video), resized to the image size; the transcript with its language;
the audio as an `input_audio` WAV part when enabled (servers such as vLLM with Qwen2.5-Omni); and
the baseline's measured evidence as text (the baseline's own clue sentences plus the action-unit
timeline and head pose behind them). The system prompt carries SEKE-style emotion knowledge (which
action units go with which expression) and asks for every clue to be grounded. Answers are held to
a JSON schema (`response_format`), and parsed strictly: a reply that does not fit is repaired once
by the backend, then the clip fails with the reason.
"""

from __future__ import annotations

import base64
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from core.vocabulary import Aspect
from model.base import ClipInput, Span

PROMPT_VERSION = "seke-v1"
MAX_OUTPUT_TOKENS = 1024
JPEG_QUALITY = 85

LANGUAGE_NAMES = {"en": "English", "zh": "Simplified Chinese (简体中文)"}

SEKE_KNOWLEDGE = """\
Emotion knowledge: facial action units (AU) and the expressions they make (EMFACS, as used by SEKE):
- happy: AU6 cheek raiser + AU12 lip corner puller (a felt smile); AU12 alone may be polite or social
- sad: AU1 inner brow raiser + AU4 brow lowerer + AU15 lip corner depressor, often AU17 chin raiser
- surprise: AU1 + AU2 outer brow raiser + AU5 upper lid raiser + AU26 jaw drop
- fear: AU1 + AU2 + AU4 + AU5 + AU7 lid tightener + AU20 lip stretcher + AU26
- angry: AU4 + AU5 + AU7 + AU23 lip tightener or AU24 lip pressor
- disgust: AU9 nose wrinkler + AU10 upper lip raiser + AU15, sometimes AU17
- contempt: AU12 + AU14 dimpler on one side only
- worried: AU1 + AU4 (inner brows raised and drawn together), often AU24 lip press or AU20
- doubt: AU4 with a head tilt, AU14 or AU24, gaze turned away
- neutral: no action unit clearly active
Voice: anger and joy raise pitch and loudness; sadness lowers pitch, slows speech and adds pauses; fear
and worry raise pitch with an unsteady voice; surprise brings a sudden pitch rise. Weigh the aspects
together: words can contradict the face (irony, politeness), and a still face can hide an emotion that
the voice or the words carry."""

SYSTEM_PROMPT = """\
You annotate why a person in a video clip feels what they feel, for explainable multimodal emotion
recognition. You receive frames sampled from the clip, sometimes its audio, the transcript, and
measurements from automatic extractors (facial action units with times, head pose, prosody against
the speaker's usual voice, pauses, text sentiment, on-screen text, scene statistics).

Write one clue per aspect:
- facial: facial expression and body: brows, eyes, mouth, head and body movement, gestures; name the
  action units that were measured
- vocal: tone and intonation: pitch, loudness, speaking rate, voice quality, pauses
- verbal: speech content: what is said, its wording and sentiment, in context
- scene: video content and environment: setting, other people, events, objects, lighting

Ground every clue: each statement must be visible in the frames, audible, or stated in the
measurements or the transcript; give times in seconds where they are known. Never invent a cue. Where
an aspect has no evidence, say so plainly in one short sentence. Where the measurements and your
impression disagree, say what was measured.

{knowledge}

Answer with JSON only:
- clues: the four aspects, each written in the language the request names
- emotion: exactly one of: {labels}
- emotion_words: one to five open-vocabulary English emotion words for the person's state, best first
- spans: for each clue you can ground in time, its aspect, start and end in seconds and a short label
  ([] when none)"""

VERIFY_PROMPT = """\
You check an emotion annotation of a video clip against what was measured. For each of the four
clues (facial, vocal, verbal, scene) decide:
- consistent: false only when the measurements or the transcript contradict the clue (a cue that was
  measured absent, a wrong quotation, a wrong time); a clue about something not measured is consistent
- supports_emotion: whether the clue is evidence for the proposed emotion
- reason: one short sentence, in the language of the clues
Answer with JSON only.

{knowledge}"""

_ASPECT_KEYS = [a.value for a in Aspect]


def annotation_format(labels: list[str]) -> dict[str, Any]:
    """`response_format` for one clip's annotation: four clues, the emotion from the label set, words, spans."""
    clue = {"type": "string"}
    schema = {
        "type": "object",
        "properties": {
            "clues": {"type": "object", "properties": {k: clue for k in _ASPECT_KEYS},
                      "required": _ASPECT_KEYS, "additionalProperties": False},
            "emotion": {"type": "string", "enum": list(labels)},
            "emotion_words": {"type": "array", "items": {"type": "string"}},
            "spans": {"type": "array", "items": {
                "type": "object",
                "properties": {"aspect": {"type": "string", "enum": _ASPECT_KEYS}, "start": {"type": "number"},
                               "end": {"type": "number"}, "label": {"type": "string"}},
                "required": ["aspect", "start", "end", "label"], "additionalProperties": False}},
        },
        "required": ["clues", "emotion", "emotion_words", "spans"],
        "additionalProperties": False,
    }
    return {"type": "json_schema", "json_schema": {"name": "clip_annotation", "strict": True, "schema": schema}}


def verification_format() -> dict[str, Any]:
    verdict = {"type": "object",
               "properties": {"consistent": {"type": "boolean"}, "supports_emotion": {"type": "boolean"},
                              "reason": {"type": "string"}},
               "required": ["consistent", "supports_emotion", "reason"], "additionalProperties": False}
    schema = {"type": "object", "properties": {k: verdict for k in _ASPECT_KEYS}, "required": _ASPECT_KEYS,
              "additionalProperties": False}
    return {"type": "json_schema", "json_schema": {"name": "clue_verification", "strict": True, "schema": schema}}


# --- answers -------------------------------------------------------------------------------


class LLMAnnotation(BaseModel):
    """One sample's answer, checked: four non-empty clues, an emotion from the label set, words, spans."""

    clues: dict[Aspect, str]
    emotion: str
    emotion_words: list[str] = Field(default_factory=list)
    spans: list[Span] = Field(default_factory=list)

    @field_validator("clues")
    @classmethod
    def _four_clues(cls, value: dict[Aspect, str]) -> dict[Aspect, str]:
        empty = [a.value for a in Aspect if not (value.get(a) or "").strip()]
        if empty:
            raise ValueError(f"empty or missing clues: {', '.join(empty)}")
        return {a: value[a].strip() for a in Aspect}

    @property
    def text(self) -> str:
        """The four clues as one text (for choosing the medoid sample)."""
        return " ".join(self.clues[a] for a in Aspect)


class Verdict(BaseModel):
    consistent: bool
    supports_emotion: bool
    reason: str = ""


def _json_object(reply: str) -> Any:
    text = reply.strip()
    fenced = re.match(r"^```(?:json)?\s*(.*?)\s*```$", text, re.S)
    if fenced:  # servers without schema enforcement like to fence their JSON
        text = fenced.group(1)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON ({error.msg} at character {error.pos})") from None


def _short(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}" for e in error.errors()[:4])


def parse_annotation(reply: str, labels: list[str], *, duration: float | None = None) -> LLMAnnotation:
    """The checked answer, or ValueError saying what is wrong (that text goes into the repair request)."""
    data = _json_object(reply)
    if not isinstance(data, dict):
        raise ValueError("the answer is not a JSON object")
    canonical = {label.lower(): label for label in labels}
    emotion = str(data.get("emotion") or "").strip()
    if emotion.lower() not in canonical:
        raise ValueError(f"emotion {emotion!r} is not one of: {', '.join(labels)}")
    data["emotion"] = canonical[emotion.lower()]
    spans = []
    for raw in data.get("spans") or []:
        try:  # a span is optional grounding: clamp it into the clip rather than fail the answer
            start, end = sorted((max(0.0, float(raw["start"])), max(0.0, float(raw["end"]))))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"span {raw!r} lacks a numeric start and end") from None
        if duration:
            start, end = min(start, duration), min(end, duration)
        spans.append({**raw, "start": round(start, 2), "end": round(end, 2)})
    data["spans"] = spans
    data["emotion_words"] = [w.strip().lower() for w in data.get("emotion_words") or [] if str(w).strip()]
    try:
        return LLMAnnotation.model_validate(data)
    except ValidationError as error:
        raise ValueError(_short(error)) from None


def parse_verification(reply: str) -> dict[Aspect, Verdict]:
    data = _json_object(reply)
    if not isinstance(data, dict):
        raise ValueError("the answer is not a JSON object")
    missing = [k for k in _ASPECT_KEYS if k not in data]
    if missing:
        raise ValueError(f"no verdict for: {', '.join(missing)}")
    try:
        return {a: Verdict.model_validate(data[a.value]) for a in Aspect}
    except ValidationError as error:
        raise ValueError(_short(error)) from None


# --- evidence --------------------------------------------------------------------------------


def evidence_lines(features: dict[str, dict[str, Any]]) -> list[str]:
    """The baseline's measured evidence as lines of English text: its clue sentences plus the AU timeline."""
    from model.baseline.clues import measured_clues
    from model.features.face import AU_ACTIVE

    if not features:
        return []
    clues, _ = measured_clues(features, "en")
    lines = [f"- {aspect.value}: {clues[aspect]}" for aspect in Aspect]
    face = features.get("face") or {}
    shown = sorted(((au, v) for au, v in (face.get("au") or {}).items() if v.get("max", 0) >= AU_ACTIVE),
                   key=lambda item: -item[1]["max"])
    if shown:
        lines.insert(1, "  action units (max intensity 0-1, onset and peak in s): " + "; ".join(
            f"{au} {v['max']:.2f}" + (f" from {v['onset']:.1f}" if v.get("onset") is not None else "")
            + (f" peak {v['peak_time']:.1f}" if v.get("peak_time") is not None else "") for au, v in shown))
    head = face.get("head") or {}
    if head:
        lines.insert(2 if shown else 1, "  head pose ranges: " + ", ".join(
            f"{axis} {head[f'{axis}_range']:.0f}°" for axis in ("yaw", "pitch", "roll") if f"{axis}_range" in head))
    return lines


# --- media -------------------------------------------------------------------------------------


@dataclass
class Frame:
    time: float
    data_uri: str


def sample_frames(clip: ClipInput, *, count: int, image_size: int) -> list[Frame]:
    """`count` frames evenly over the clip, longest side at most `image_size`, as JPEG data URIs."""
    import cv2

    from model.features.media import load_frames

    if count <= 0:
        return []
    fps = count / clip.duration if clip.duration else 1.0
    frames = load_frames(video_path=clip.video_path, frames_dir=clip.frames_dir, duration=clip.duration,
                         fps=fps, max_frames=count, frame_times=clip.frame_times)
    out = []
    for image, time in zip(frames.images, frames.times, strict=False):
        h, w = image.shape[:2]
        scale = min(1.0, image_size / max(h, w))
        if scale < 1.0:  # area averaging only where it matters (it is ~10x slower than bilinear)
            image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                               interpolation=cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR)
        ok, jpeg = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if ok:
            out.append(Frame(time=float(time), data_uri="data:image/jpeg;base64," + base64.b64encode(jpeg).decode()))
    return out


def audio_base64(clip: ClipInput) -> str | None:
    """The clip's audio as base64 WAV: ingest's 16 kHz WAV as it is, else decoded and encoded."""
    path = Path(clip.audio_path) if clip.audio_path else None
    if path and path.is_file() and path.suffix.lower() == ".wav":
        return base64.b64encode(path.read_bytes()).decode()
    import soundfile as sf

    from model.features.media import SAMPLE_RATE, audio_from_video, load_audio

    if path and path.is_file():
        audio = load_audio(path)
    elif clip.video_path and Path(clip.video_path).is_file():
        audio = audio_from_video(Path(clip.video_path))
    else:
        return None
    if audio is None or not audio.size:
        return None
    buffer = io.BytesIO()
    sf.write(buffer, audio, SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return base64.b64encode(buffer.getvalue()).decode()


# --- the request ---------------------------------------------------------------------------


@dataclass
class Exemplar:
    """A consensus clip shown as a worked example."""

    clip_id: int
    clip_name: str
    language: str
    transcript: str
    evidence: list[str]
    emotion: str
    clues: dict[str, str]


@dataclass
class ClipPrompt:
    """One clip's request messages, plus what the verification step needs to see again."""

    messages: list[dict[str, Any]]
    language: str
    transcript: str
    evidence: list[str]
    frames: int = 0
    audio: bool = False
    exemplar_ids: list[int] = field(default_factory=list)


def system_message(labels: list[str]) -> dict[str, Any]:
    return {"role": "system", "content": SYSTEM_PROMPT.format(knowledge=SEKE_KNOWLEDGE, labels=", ".join(labels))}


def _exemplar_text(examples: list[Exemplar]) -> str:
    parts = ["Worked examples: this team's consensus on similar clips (follow their way of writing clues; "
             "do not copy their content):"]
    for n, ex in enumerate(examples, 1):
        answer = json.dumps({"clues": {k: v for k, v in ex.clues.items() if v}, "emotion": ex.emotion},
                            ensure_ascii=False)
        parts.append(f"Example {n}: clip {ex.clip_name} ({LANGUAGE_NAMES.get(ex.language, ex.language)}). Transcript: "
                     f"\"{ex.transcript}\"\nMeasured:\n" + "\n".join(ex.evidence) + f"\nConsensus answer: {answer}")
    return "\n\n".join(parts)


def clip_prompt(clip: ClipInput, *, labels: list[str], language: str, transcript: str,
                features: dict[str, dict[str, Any]], frames: int, image_size: int, audio: bool,
                exemplars: list[Exemplar] | None = None) -> ClipPrompt:
    """The messages that ask for one clip's annotation."""
    evidence = evidence_lines(features)
    content: list[dict[str, Any]] = []
    if exemplars:
        content.append({"type": "text", "text": _exemplar_text(exemplars)})
    duration = f"{clip.duration:.1f} s" if clip.duration else "unknown length"
    content.append({"type": "text", "text": f"The clip ({duration}). Write the clues in "
                                            f"{LANGUAGE_NAMES.get(language, language)}."})
    sampled = sample_frames(clip, count=frames, image_size=image_size) if frames else []
    for frame in sampled:
        content.append({"type": "text", "text": f"Frame at {frame.time:.2f} s:"})
        content.append({"type": "image_url", "image_url": {"url": frame.data_uri}})
    if not sampled:
        content.append({"type": "text", "text": "No video frames."})
    sound = audio_base64(clip) if audio else None
    if sound:
        content.append({"type": "text", "text": "The clip's audio:"})
        content.append({"type": "input_audio", "input_audio": {"data": sound, "format": "wav"}})
    said = transcript.strip()
    content.append({"type": "text", "text": (
        f"Transcript ({LANGUAGE_NAMES.get(language, language)}): \"{said}\"" if said else "Transcript: nothing is said.")
        + "\n\nMeasured evidence (automatic extractors; numbers are measurements):\n"
        + ("\n".join(evidence) if evidence else "none available.")})
    return ClipPrompt(messages=[system_message(labels), {"role": "user", "content": content}], language=language,
                      transcript=said, evidence=evidence, frames=len(sampled), audio=bool(sound),
                      exemplar_ids=[e.clip_id for e in exemplars or []])


def repair_messages(messages: list[dict[str, Any]], reply: str, problem: str) -> list[dict[str, Any]]:
    """The original request, the bad reply, and what was wrong with it."""
    return [*messages, {"role": "assistant", "content": reply},
            {"role": "user", "content": f"That answer cannot be used: {problem}. Reply again with only the "
                                        "corrected JSON object, following the schema."}]


def verification_messages(prompt: ClipPrompt, answer: LLMAnnotation) -> list[dict[str, Any]]:
    """A text-only request: the measurements, the transcript and the chosen clues with their emotion."""
    clues = json.dumps({a.value: answer.clues[a] for a in Aspect}, ensure_ascii=False, indent=1)
    text = (f"Transcript: \"{prompt.transcript}\"\n\nMeasured evidence:\n"
            + ("\n".join(prompt.evidence) if prompt.evidence else "none available.")
            + f"\n\nProposed emotion: {answer.emotion}\nClues:\n{clues}")
    return [{"role": "system", "content": VERIFY_PROMPT.format(knowledge=SEKE_KNOWLEDGE)},
            {"role": "user", "content": text}]
