"""Reasoning paragraph <-> four clue aspects, in English and Chinese.

EMER-style reasoning reads "In the video … In the audio … In the text … Based
on …" (在视频中…；在音频中…；在文本中…；综上…). `split_paragraph` cuts on those
markers first; a paragraph without them is split sentence by sentence with a
small classifier on multilingual sentence embeddings, trained offline on
built-in example sentences (and, when given, consensus clues). The video part
holds both facial and scene clues, told apart per sentence.
`merge_aspects` writes the four aspects back as one EMER-style paragraph.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from annotation.text import detect_language, split_sentences
from core.vocabulary import Aspect

CONCLUSION = "conclusion"

# Section markers. Video/audio/text may appear anywhere; a conclusion marker only opens a sentence.
_SECTION_MARKERS: list[tuple[str, re.Pattern[str]]] = [
    ("video", re.compile(r"\b[Ii]n the (?:video|visual(?: modality)?|image|frames?)\b\s*[,:，]?\s*")),
    ("audio", re.compile(r"\b[Ii]n the (?:audio|speech|voice|acoustic(?: modality)?)\b\s*[,:，]?\s*")),
    ("text", re.compile(r"\b[Ii]n the (?:text|subtitles?|transcript|lines?)\b\s*[,:，]?\s*")),
    ("video", re.compile(r"(?:在|从)?(?:视频|画面|视觉)(?:中|里|上|方面)\s*[，,：:]?\s*")),
    ("audio", re.compile(r"(?:在|从)?(?:音频|语音|声音|听觉)(?:中|里|上|方面)\s*[，,：:]?\s*")),
    ("text", re.compile(r"(?:在|从)?(?:文本|字幕|台词)(?:中|里|上|方面)\s*[，,：:]?\s*")),
]
_SENTENCE_START = r"(?:^|(?<=[.!?。！？；;]))\s*"
_CONCLUSION_MARKER = re.compile(
    _SENTENCE_START + r"(?:Based on|Therefore|In summary|To sum up|Overall|Taken together|Considering"
    r"|综上所述|综上|综合|基于|根据以上|根据上述|因此|所以)"
)

_FACIAL_WORDS = re.compile(
    r"\b(?:face|facial|brows?|eyebrows?|eyes?|gaze|mouth|lips?|smil\w*|frown\w*|grin\w*|express\w*|head|nod\w*"
    r"|hands?|gestur\w*|body|posture|shoulders?|tears?|cry\w*|jaw|cheeks?|AU\d+|stare\w*|blink\w*|arms?)\b"
    r"|眉|眼|嘴|唇|笑|表情|面部|脸|头|手|身体|姿势|动作|泪|哭|瞪|皱|肩|目光|神情|神色",
    re.IGNORECASE,
)

# Built-in examples in the shape of EMER v2 reasoning, one list per class.
_EXAMPLES: dict[str, list[str]] = {
    Aspect.facial.value: [
        "The man frowns and raises his eyebrows.", "She smiles with the corners of her mouth turned up.",
        "His eyes are wide open and his jaw drops.", "She lowers her head and avoids eye contact.",
        "He clenches his fists and glares at the other person.", "Tears well up in her eyes.",
        "她眉头紧锁，嘴角下垂。", "他瞪大眼睛，张大嘴巴。", "她低着头，眼神躲闪。", "他面带微笑，眼睛眯成一条线。",
        "他双手抱胸，身体后仰。", "她眼含泪水，表情痛苦。",
    ],
    Aspect.vocal.value: [
        "His voice is loud and the pace is fast.", "She speaks softly with a trembling voice.",
        "The tone is flat and calm, with long pauses.", "His pitch rises sharply at the end of the sentence.",
        "She sighs and her voice sounds tired.", "He shouts in an agitated tone.",
        "他的语速很快，音量很大。", "她声音颤抖，语调低沉。", "语气平淡，没有明显起伏。", "他的语调上扬，带着惊讶。",
        "她叹了口气，声音疲惫。", "他大声喊叫，语气激动。",
    ],
    Aspect.verbal.value: [
        "He says that he cannot believe she lied to him.", "She says thank you so much, this is wonderful.",
        "The words express worry about the exam tomorrow.", "He asks why nobody told him about the meeting.",
        "The sentence contains a complaint about being treated unfairly.", "She says she misses her family.",
        "他说：“你为什么不告诉我？”", "她说自己真的很开心。", "台词表达了对明天考试的担忧。", "他抱怨自己受到了不公平的对待。",
        "她说她很想念家人。", "这句话表达了强烈的不满。",
    ],
    Aspect.scene.value: [
        "The scene takes place in a dim office at night.", "Two people sit at a dinner table in a restaurant.",
        "The background is a hospital corridor with bright lights.", "A crowd gathers on the street behind them.",
        "The room is dark and the curtains are closed.", "Another man stands at the door holding a letter.",
        "场景是在一个昏暗的办公室里。", "两个人坐在餐厅的餐桌旁。", "背景是医院的走廊，灯光明亮。", "街上有一群人围观。",
        "房间很暗，窗帘紧闭。", "另一个人站在门口拿着一封信。",
    ],
    CONCLUSION: [
        "Based on these clues, the person is most likely angry.", "Therefore, her emotional state is happy.",
        "Overall, he appears to be worried.", "Taken together, the character feels sad.",
        "In summary, the emotion is surprise.", "Considering all clues, the person is calm and neutral.",
        "综上所述，人物的情绪状态是愤怒。", "因此，可以推断她很开心。", "综合以上线索，他感到担忧。", "所以他的情绪是悲伤。",
        "根据以上线索，人物感到惊讶。", "总体来看，她的情绪是中性的。",
    ],
}


@dataclass
class AspectSplit:
    """The four aspects (missing ones empty), the concluding sentence(s), and how it was split."""

    clues: dict[str, str] = field(default_factory=lambda: {a.value: "" for a in Aspect})
    conclusion: str = ""
    method: str = "none"  # markers | classifier | none


def _join(parts: Sequence[str], language: str) -> str:
    parts = [p.strip() for p in parts if p and p.strip()]
    return ("" if language == "zh" else " ").join(parts)


def _tidy(section: str) -> str:
    return section.strip().strip(";；").strip()


def _video_sentences(section: str) -> tuple[list[str], list[str]]:
    """Split the video part into facial and scene sentences."""
    facial, scene = [], []
    for sentence in split_sentences(section):
        (facial if _FACIAL_WORDS.search(sentence) else scene).append(sentence)
    return facial, scene


def _find_markers(text: str) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    for kind, pattern in _SECTION_MARKERS:
        found += [(m.start(), m.end(), kind) for m in pattern.finditer(text)]
    found += [(m.start(), m.start(), CONCLUSION) for m in _CONCLUSION_MARKER.finditer(text)]
    found.sort()
    # Keep one marker per position (the first pattern wins) and drop overlaps.
    kept: list[tuple[int, int, str]] = []
    for start, end, kind in found:
        if kept and start < max(kept[-1][1], kept[-1][0] + 1):
            continue
        kept.append((start, end, kind))
    return kept


def split_by_markers(text: str) -> AspectSplit | None:
    """Split on EMER section markers; None when the paragraph has no video/audio/text marker."""
    markers = _find_markers(text)
    if not any(kind != CONCLUSION for _, _, kind in markers):
        return None
    language = detect_language(text)
    buckets: dict[str, list[str]] = {a.value: [] for a in Aspect}
    conclusion: list[str] = []
    lead = _tidy(text[: markers[0][0]])
    if lead:
        buckets[Aspect.scene.value].append(lead)
    for index, (_, end, kind) in enumerate(markers):
        stop = markers[index + 1][0] if index + 1 < len(markers) else len(text)
        section = _tidy(text[end:stop])
        if not section:
            continue
        if kind == "video":
            facial, scene = _video_sentences(section)
            buckets[Aspect.facial.value] += facial
            buckets[Aspect.scene.value] += scene
        elif kind == "audio":
            buckets[Aspect.vocal.value].append(section)
        elif kind == "text":
            buckets[Aspect.verbal.value].append(section)
        else:
            conclusion.append(section)
    return AspectSplit(
        clues={k: _join(v, language) for k, v in buckets.items()},
        conclusion=_join(conclusion, language),
        method="markers",
    )


class SentenceAspectClassifier:
    """Logistic regression over sentence embeddings: facial/vocal/verbal/scene/conclusion."""

    def __init__(self, extra_examples: Mapping[str, Sequence[str]] | None = None) -> None:
        from sklearn.linear_model import LogisticRegression

        from annotation.embeddings import embed

        texts, labels = [], []
        for label, sentences in _EXAMPLES.items():
            for sentence in list(sentences) + list((extra_examples or {}).get(label, [])):
                if sentence.strip():
                    texts.append(sentence)
                    labels.append(label)
        self._embed = embed
        self._model = LogisticRegression(max_iter=2000, C=4.0).fit(embed(texts), labels)

    def predict(self, sentences: Sequence[str]) -> list[str]:
        if not sentences:
            return []
        return list(self._model.predict(self._embed(sentences)))


@lru_cache(maxsize=1)
def default_classifier() -> SentenceAspectClassifier:
    return SentenceAspectClassifier()


def split_by_classifier(text: str, classifier: SentenceAspectClassifier | None = None) -> AspectSplit:
    sentences = split_sentences(text)
    language = detect_language(text)
    labels = (classifier or default_classifier()).predict(sentences)
    buckets: dict[str, list[str]] = {a.value: [] for a in Aspect}
    conclusion: list[str] = []
    for sentence, label in zip(sentences, labels, strict=False):
        (conclusion if label == CONCLUSION else buckets[label]).append(sentence)
    return AspectSplit(
        clues={k: _join(v, language) for k, v in buckets.items()},
        conclusion=_join(conclusion, language),
        method="classifier",
    )


def split_paragraph(text: str, *, classifier: SentenceAspectClassifier | None = None,
                    use_classifier: bool = True) -> AspectSplit:
    """Four aspects from one reasoning paragraph: markers first, else the sentence classifier."""
    text = (text or "").strip()
    if not text:
        return AspectSplit()
    by_markers = split_by_markers(text)
    if by_markers is not None:
        return by_markers
    if use_classifier:
        return split_by_classifier(text, classifier)
    return AspectSplit(clues={**AspectSplit().clues, Aspect.scene.value: text}, method="none")


def _lower_first(text: str) -> str:
    """'The man frowns' -> 'the man frowns', leaving acronyms and names like 'AU12' alone."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def _sentence(text: str, language: str) -> str:
    text = text.strip()
    if not text:
        return ""
    end = "。" if language == "zh" else "."
    return text if text[-1] in ".!?。！？；;" else text + end


def merge_aspects(clues: Mapping[str, str], *, emotion: str | None = None, conclusion: str = "",
                  language: str | None = None) -> str:
    """One EMER-style paragraph from the four aspects (and an emotion or a conclusion)."""
    get = {a.value: (clues.get(a.value) or clues.get(a) or "").strip() for a in Aspect}  # type: ignore[call-overload]
    if language is None:
        language = detect_language(" ".join(get.values()) + conclusion)
    zh = language.startswith("zh")
    video = _join([_sentence(get["facial"], language), _sentence(get["scene"], language)], language)
    sections = [("在视频中，" if zh else "In the video, ", video),
                ("在音频中，" if zh else "In the audio, ", _sentence(get["vocal"], language)),
                ("在文本中，" if zh else "In the text, ", _sentence(get["verbal"], language))]
    parts = [prefix + (body if zh else _lower_first(body)) for prefix, body in sections if body]
    if conclusion.strip():
        parts.append(_sentence(conclusion, language))
    elif emotion:
        parts.append(f"综合以上线索，人物的情绪状态最可能是{emotion}。" if zh
                     else f"Based on the above clues, the person's emotional state is most likely {emotion}.")
    return _join(parts, "zh" if zh else "en")


def has_markers(text: str) -> bool:
    return split_by_markers(text or "") is not None


def train_classifier(consensus_clues: Sequence[Mapping[str, str]]) -> SentenceAspectClassifier:
    """A classifier that also learns from consensus clues (one dict of aspects per clip)."""
    extra: dict[str, list[str]] = {a.value: [] for a in Aspect}
    for clues in consensus_clues:
        for aspect, text in clues.items():
            if aspect in extra:
                extra[aspect] += split_sentences(text or "")
    return SentenceAspectClassifier(extra)


__all__ = [
    "AspectSplit", "CONCLUSION", "SentenceAspectClassifier", "default_classifier", "has_markers",
    "merge_aspects", "split_by_classifier", "split_by_markers", "split_paragraph", "train_classifier",
]
