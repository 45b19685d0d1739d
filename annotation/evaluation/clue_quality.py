"""Reference-free quality of a generated reasoning, per aspect: grounding, consistency, modality coverage.

Nothing here needs a human reference; everything is checked against what ClueLab itself measured
(the baseline's cached features, `ClipFeature` rows: "face", "voice", "speech", "scene") and the
clip's transcript. Pure functions: the caller hands in clues, features and an embedding function.

* **Grounding** — each claim a clue makes that a measurement can check is checked:
  facial: a smile or raised lip corners needs AU12 (lip corner pull) at or above 0.3, a frown AU4, raised
  brows AU1/AU2, widened eyes AU5, lowered lip corners AU15, an open mouth AU26 (AU-like cues from
  MediaPipe blendshapes); any face claim needs a face in the sampled frames.
  vocal: a raised or loud voice needs a loudness rise of 6 dB or more over the speech median, a high or
  rising pitch a 95th-percentile pitch 20% over the median, fast/slow speech a syllable rate ≥ 4.5 / < 2.5
  per second, pauses a measured pause, a trembling voice jitter ≥ 2% or shimmer ≥ 12%.
  verbal: a quoted phrase must be found in the transcript: the character error rate of its best match
  against any stretch of the transcript (approximate substring matching, Sellers 1980) at most 0.3.
  scene: "dark/dim" needs brightness below 0.4, "bright" above 0.55, "alone" at most one face,
  "several people" two or more.
  A claim is `ok` (the measurement agrees), `unsupported` (it was measured and disagrees) or
  `unknown` (nothing measured it). An aspect's grounding score is the share of checked claims that hold.
* **Consistency** — does the reasoning support the stated emotion? The reasoning and one short
  description per candidate emotion ("The person feels angry: irritated, hostile, raising their voice.")
  are embedded with the multilingual sentence encoder ClueLab uses everywhere (`annotation.embeddings`,
  USE multilingual v3). The reasoning supports the emotion when its prototype is the nearest or within
  0.02 cosine of the nearest; the margin (stated minus best other) is the score.
* **Modality coverage** (EMER's "modality completeness") — which of audio (tone), visual (face and
  scene) and content (speech) the reasoning uses: an aspect counts when its clue says something other
  than "no evidence".
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.vocabulary import ASPECTS, Aspect

Embed = Callable[[Sequence[str]], np.ndarray]

OK, UNSUPPORTED, UNKNOWN = "ok", "unsupported", "unknown"
AU_ACTIVE = 0.3  # as the baseline's face features: a cue counts as shown from this intensity
LOUDNESS_RISE_DB = 6.0
PITCH_RISE_PCT = 20.0
FAST_RATE, SLOW_RATE = 4.5, 2.5
JITTER, SHIMMER = 0.02, 0.12
QUOTE_MAX_CER = 0.3
CONSISTENCY_MARGIN = 0.02
MODALITIES: dict[str, tuple[Aspect, ...]] = {
    "audio": (Aspect.vocal,), "visual": (Aspect.facial, Aspect.scene), "content": (Aspect.verbal,),
}

# Short descriptions an emotion word is compared with (English; the encoder is multilingual).
PROTOTYPES: dict[str, str] = {
    "neutral": "The person is calm and neutral, speaking plainly with a relaxed face and an even voice.",
    "angry": "The person is angry: frowning, glaring, raising their voice, irritated and hostile words.",
    "happy": "The person is happy: smiling, laughing, a bright lively voice and cheerful words.",
    "sad": "The person is sad: lip corners down, teary, a low slow voice and words of loss or regret.",
    "worried": "The person is worried: tense brows, hesitant speech, anxious words about what may go wrong.",
    "surprise": "The person is surprised: raised brows, wide eyes, an open mouth, a sudden exclamation.",
    "fear": "The person is afraid: wide eyes, a trembling voice, words of danger and fear.",
    "disgust": "The person is disgusted: a wrinkled nose, a curled lip, words of revulsion.",
    "contempt": "The person shows contempt: a one-sided smirk, a dismissive tone, belittling words.",
    "doubt": "The person is doubtful: a puzzled look, a questioning tone, words of disbelief.",
}


@dataclass(frozen=True)
class Claim:
    """One checkable claim in a clue and what the measurement said."""

    aspect: str
    claim: str
    status: str  # ok | unsupported | unknown
    detail: str


@dataclass
class ClueQuality:
    claims: list[Claim] = field(default_factory=list)
    consistency: float | None = None  # cosine margin of the stated emotion over the best other; None: unscored
    consistent: bool | None = None
    nearest_emotion: str | None = None
    coverage: dict[str, bool] = field(default_factory=dict)  # audio / visual / content -> used

    def grounding(self, aspect: Aspect | str) -> float | None:
        """Share of the aspect's checked claims that hold; None when nothing could be checked."""
        key = aspect.value if isinstance(aspect, Aspect) else aspect
        checked = [c for c in self.claims if c.aspect == key and c.status != UNKNOWN]
        return sum(c.status == OK for c in checked) / len(checked) if checked else None

    def aspect_claims(self, aspect: Aspect | str) -> list[Claim]:
        key = aspect.value if isinstance(aspect, Aspect) else aspect
        return [c for c in self.claims if c.aspect == key]

    @property
    def coverage_score(self) -> float:
        return sum(self.coverage.values()) / len(MODALITIES)


# --- claims in text ----------------------------------------------------------------------------------

def _pattern(*words: str) -> re.Pattern[str]:
    return re.compile("|".join(words), re.IGNORECASE)


_FACE_ANY = _pattern(r"\bface\b", r"\bfacial\b", r"\bsmil", r"\bfrown", r"\bbrow", r"\beyes?\b", r"\bmouth\b",
                     r"\blips?\b", "面部", "表情", "脸", "眉", "眼", "嘴")
# (claim name, pattern, action units any of which must reach AU_ACTIVE)
_FACE_CLAIMS: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = (
    ("smile", _pattern(r"\bsmil", r"\bgrin", r"lip corners? (?:are |is )?(?:pulled |turned |raised )?up",
                       "微笑", "嘴角上扬", "笑容", "露出笑"), ("AU12",)),
    ("frown", _pattern(r"\bfrown", r"brows? (?:are |is )?(?:drawn together|furrowed|knitted|lowered)",
                       r"furrowed", "皱眉", "眉头紧锁"), ("AU4",)),
    ("raised brows", _pattern(r"(?:raised|lifted) (?:eye)?brows", r"(?:eye)?brows? (?:are |is )?raised",
                              "挑眉", "眉毛上扬", "眉头上扬", "眉梢上挑"), ("AU1", "AU2")),
    ("wide eyes", _pattern(r"(?:wide|widened|widening) eyes", r"eyes (?:are |go )?(?:wide|widen)", "睁大"), ("AU5",)),
    ("lip corners down", _pattern(r"lip corners? (?:are |is )?(?:pulled |turned )?down", r"downturned mouth",
                                  "嘴角下垂", "嘴角向下"), ("AU15",)),
    ("open mouth", _pattern(r"(?:open|opened|dropped) (?:mouth|jaw)", r"jaw drop", r"mouth (?:falls |is )?open",
                            "张嘴", "张大嘴"), ("AU26",)),
)
_RAISED_VOICE = _pattern(r"raised voice", r"raises? (?:his |her |their )?voice", r"\bloud", r"\bshout",
                         r"\byell", "大声", "提高音量", "音量(?:增大|提高|升高)", "喊")
_HIGH_PITCH = _pattern(r"high(?:er)?[- ]pitch", r"pitch (?:rises|rising|goes up|is high)", r"rising pitch",
                       "音调(?:升高|上扬|很高)", "音高(?:升|上)")
_FAST = _pattern(r"\bfast speech", r"speaks? (?:quickly|fast|rapidly)", r"rapid speech", "语速(?:快|很快|较快)")
_SLOW = _pattern(r"\bslow speech", r"speaks? slowly", "语速(?:慢|缓慢|较慢)")
_PAUSES = _pattern(r"\bpauses?\b", r"\bhesitat", "停顿", "犹豫")
_TREMBLE = _pattern(r"trembl", r"shak(?:y|ing) voice", r"voice (?:shakes|quivers|cracks)", r"quaver", "颤抖", "发抖")
_DIM = _pattern(r"\bdim\b", r"\bdark\b", r"\bdimly", "昏暗", "黑暗")
_BRIGHT = _pattern(r"\bbright\b", r"\bbrightly", "明亮")
_ALONE = _pattern(r"\balone\b", "独自", "一个人")
_SEVERAL = _pattern(r"\b(?:two|three|several|other) (?:people|persons|men|women)\b", r"\bpeople in view",
                    "其他人", "多人", "几个人")
_QUOTES = re.compile(r"[\"“「『‘]([^\"”」』’]{2,300})[\"”」』’]")
_NO_EVIDENCE = _pattern(r"\bno (?:\w+ )?evidence\b", r"\bnothing is said\b", r"\bno (?:video|audio|face)\b",
                        r"\bsilent\b", "没有.*证据", "无法", "没有画面", "没有音轨", "没有说话", "未发现人脸")


def _claims_facial(text: str, face: Mapping[str, Any] | None) -> list[Claim]:
    if not _FACE_ANY.search(text):
        return []
    out: list[Claim] = []
    named = [(name, aus) for name, pattern, aus in _FACE_CLAIMS if pattern.search(text)]
    if face is None or not face.get("frames"):
        return [Claim("facial", name, UNKNOWN, "no face measurement for this clip") for name, _ in named]
    if not face.get("frames_with_face"):
        return [Claim("facial", "a face is described", UNSUPPORTED,
                      f"no face found in {face.get('frames', 0)} sampled frames")]
    action = face.get("au") or {}
    for name, aus in named:
        if not action:
            out.append(Claim("facial", name, UNKNOWN, "the face's movements could not be read"))
            continue
        peak = max(((au, (action.get(au) or {}).get("max", 0.0)) for au in aus), key=lambda kv: kv[1])
        status = OK if peak[1] >= AU_ACTIVE else UNSUPPORTED
        out.append(Claim("facial", name, status, f"{peak[0]} peaks at {peak[1]:.2f} (shown from {AU_ACTIVE:.1f})"))
    return out


def _claims_vocal(text: str, voice: Mapping[str, Any] | None) -> list[Claim]:
    checks = [("raised voice", _RAISED_VOICE), ("high pitch", _HIGH_PITCH), ("fast speech", _FAST),
              ("slow speech", _SLOW), ("pauses", _PAUSES), ("trembling voice", _TREMBLE)]
    named = [name for name, pattern in checks if pattern.search(text)]
    if not named:
        return []
    if voice is None or voice.get("no_audio") or not voice.get("has_voice"):
        why = "no voice measurement for this clip" if voice is None else "no voice was measured in the audio"
        return [Claim("vocal", name, UNKNOWN if voice is None else UNSUPPORTED, why) for name in named]
    out = []
    for name in named:
        out.append(_vocal_claim(name, voice))
    return out


def _vocal_claim(name: str, voice: Mapping[str, Any]) -> Claim:
    if name == "raised voice":
        rise = (voice.get("intensity") or {}).get("rise_db")
        if rise is None:
            return Claim("vocal", name, UNKNOWN, "loudness was not measured")
        return Claim("vocal", name, OK if rise >= LOUDNESS_RISE_DB else UNSUPPORTED,
                     f"loudness rises {rise:.1f} dB over its median (a raise from {LOUDNESS_RISE_DB:.0f})")
    if name == "high pitch":
        rise = (voice.get("pitch") or {}).get("rise_pct")
        if rise is None:
            return Claim("vocal", name, UNKNOWN, "pitch was not measured")
        return Claim("vocal", name, OK if rise >= PITCH_RISE_PCT else UNSUPPORTED,
                     f"pitch peaks {rise:.0f}% over its median (high from {PITCH_RISE_PCT:.0f}%)")
    if name in ("fast speech", "slow speech"):
        rate = voice.get("syllable_rate_est")
        if rate is None:
            return Claim("vocal", name, UNKNOWN, "speaking rate was not measured")
        holds = rate >= FAST_RATE if name == "fast speech" else rate < SLOW_RATE
        return Claim("vocal", name, OK if holds else UNSUPPORTED, f"{rate:.1f} syllables/s")
    if name == "pauses":
        pauses = voice.get("pauses")
        if pauses is None:
            return Claim("vocal", name, UNKNOWN, "pauses were not measured")
        return Claim("vocal", name, OK if pauses >= 1 else UNSUPPORTED, f"{pauses} pause(s) of 0.2 s or more")
    jitter, shimmer = voice.get("jitter"), voice.get("shimmer")
    if jitter is None and shimmer is None:
        return Claim("vocal", name, UNKNOWN, "voice quality was not measured")
    holds = (jitter or 0) >= JITTER or (shimmer or 0) >= SHIMMER
    return Claim("vocal", name, OK if holds else UNSUPPORTED,
                 f"jitter {100 * (jitter or 0):.1f}%, shimmer {100 * (shimmer or 0):.0f}%")


_PUNCTUATION = re.compile(r"[\s\W_]+", re.UNICODE)


def _plain(text: str) -> str:
    return _PUNCTUATION.sub("", text.lower())


def substring_cer(needle: str, haystack: str) -> float:
    """Character error rate of `needle` against its best-matching stretch of `haystack` (case, spaces and
    punctuation ignored): the fewest edits turning the needle into some substring, over the needle's length.

    Sellers' approximate substring matching: the first DP row is 0 everywhere (a match may start at any
    position), the answer the minimum of the last row. Vectorised over the haystack per needle character.
    """
    a, b = _plain(needle), _plain(haystack)
    if not a:
        return 0.0
    if not b:
        return 1.0
    hay = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    previous = np.zeros(len(b) + 1, dtype=np.int64)
    for i, char in enumerate(a, start=1):
        cost = (hay != ord(char)).astype(np.int64)
        current = np.empty_like(previous)
        current[0] = i
        # Substitution/match and deletion from the previous row, then insertions left to right.
        current[1:] = np.minimum(previous[:-1] + cost, previous[1:] + 1)
        # Insertions chain along the row: current[j] = min_k (current[k] + j - k), a running minimum.
        offsets = np.arange(len(current))
        current = np.minimum.accumulate(current - offsets) + offsets
        previous = current
    return float(min(previous.min(), len(a))) / len(a)


def _claims_verbal(text: str, transcript: str | None) -> list[Claim]:
    quotes = [q.strip() for q in _QUOTES.findall(text) if len(_plain(q)) >= 2]
    if not quotes:
        return []
    if not (transcript or "").strip():
        return [Claim("verbal", f"quote “{q[:40]}”", UNKNOWN, "the clip has no transcript") for q in quotes]
    out = []
    for quote in quotes:
        cer = substring_cer(quote, transcript or "")
        out.append(Claim("verbal", f"quote “{quote[:40]}{'…' if len(quote) > 40 else ''}”",
                         OK if cer <= QUOTE_MAX_CER else UNSUPPORTED,
                         f"best match in the transcript at character error rate {cer:.2f} "
                         f"(found up to {QUOTE_MAX_CER:.1f})"))
    return out


def _claims_scene(text: str, scene: Mapping[str, Any] | None) -> list[Claim]:
    checks = [("dim scene", _DIM), ("bright scene", _BRIGHT), ("alone", _ALONE), ("several people", _SEVERAL)]
    named = [name for name, pattern in checks if pattern.search(text)]
    if not named:
        return []
    if scene is None or not scene.get("frames"):
        return [Claim("scene", name, UNKNOWN, "no scene measurement for this clip") for name in named]
    out = []
    for name in named:
        if name in ("dim scene", "bright scene"):
            b = float(scene.get("brightness", 0.0))
            holds = b < 0.4 if name == "dim scene" else b > 0.55
            out.append(Claim("scene", name, OK if holds else UNSUPPORTED, f"brightness {b:.2f}"))
        else:
            faces = int(scene.get("faces_max", 0) or 0)
            holds = faces <= 1 if name == "alone" else faces >= 2
            out.append(Claim("scene", name, OK if holds else UNSUPPORTED, f"at most {faces} face(s) in view"))
    return out


def grounding_claims(clues: Mapping[str, str], features: Mapping[str, Mapping[str, Any]],
                     transcript: str | None) -> list[Claim]:
    """Every checkable claim of the four clues, checked against the clip's features and transcript."""
    text = {a.value: (clues.get(a.value) or "").strip() for a in ASPECTS}
    return [
        *_claims_facial(text["facial"], features.get("face")),
        *_claims_vocal(text["vocal"], features.get("voice")),
        *_claims_verbal(text["verbal"], transcript),
        *_claims_scene(text["scene"], features.get("scene")),
    ]


def uses_aspect(text: str | None) -> bool:
    """Whether a clue says something: not empty and not a plain "no evidence" statement."""
    text = (text or "").strip()
    return bool(text) and not (_NO_EVIDENCE.search(text) and len(text) < 80)


def modality_coverage(clues: Mapping[str, str]) -> dict[str, bool]:
    """Which of audio, visual and content the reasoning uses (EMER's modality completeness)."""
    return {modality: any(uses_aspect(clues.get(a.value)) for a in aspects) for modality, aspects in MODALITIES.items()}


def prototype(emotion: str) -> str:
    """The description an emotion word is compared with; words without one get a plain sentence."""
    key = emotion.strip().lower()
    return PROTOTYPES.get(key) or f"The person feels {key}."


_PROTOTYPE_VECTORS: dict[tuple[Embed, str], np.ndarray] = {}
_PROTOTYPE_GUARD = threading.Lock()


def consistency_scores(texts: Sequence[str], emotions: Sequence[str | None], candidates: Sequence[str], *,
                       embed: Embed) -> list[tuple[float | None, bool | None, str | None]]:
    """(margin, consistent, nearest emotion) per reasoning: one embedding call for all texts (and prototypes
    not embedded before in this process)."""
    candidates = list(dict.fromkeys([*(c.strip().lower() for c in candidates),
                                     *(e.strip().lower() for e in emotions if e)]))
    out: list[tuple[float | None, bool | None, str | None]] = [(None, None, None)] * len(texts)
    scored = [i for i, (t, e) in enumerate(zip(texts, emotions, strict=True)) if (t or "").strip() and e]
    if not scored or len(candidates) < 2:
        return out
    # The prototypes are the same on every call: embedded once per process (per embed function).
    missing = [c for c in candidates if (embed, prototype(c)) not in _PROTOTYPE_VECTORS]
    vectors = embed([texts[i] for i in scored] + [prototype(c) for c in missing])
    reasons = vectors[:len(scored)]
    with _PROTOTYPE_GUARD:
        if len(_PROTOTYPE_VECTORS) > 4096:
            _PROTOTYPE_VECTORS.clear()
        _PROTOTYPE_VECTORS.update({(embed, prototype(c)): v for c, v in zip(missing, vectors[len(scored):],
                                                                             strict=True)})
        protos = np.stack([_PROTOTYPE_VECTORS[(embed, prototype(c))] for c in candidates])
    similarity = reasons @ protos.T  # unit vectors: cosines
    for row, i in enumerate(scored):
        stated = candidates.index(emotions[i].strip().lower())  # type: ignore[union-attr]
        others = np.delete(similarity[row], stated)
        margin = float(similarity[row, stated] - others.max())
        out[i] = (margin, margin >= -CONSISTENCY_MARGIN, candidates[int(similarity[row].argmax())])
    return out


def assess(clues: Mapping[str, str], *, emotion: str | None, features: Mapping[str, Mapping[str, Any]],
           transcript: str | None, candidates: Sequence[str], embed: Embed | None) -> ClueQuality:
    """All three checks for one reasoning (consistency only with an `embed` function and an emotion)."""
    quality = ClueQuality(claims=grounding_claims(clues, features, transcript),
                          coverage=modality_coverage(clues))
    if embed is not None:
        text = " ".join((clues.get(a.value) or "").strip() for a in ASPECTS if uses_aspect(clues.get(a.value)))
        quality.consistency, quality.consistent, quality.nearest_emotion = consistency_scores(
            [text], [emotion], candidates, embed=embed)[0]
    return quality
