"""Reasoning paragraph <-> four aspects, English and Chinese."""

from __future__ import annotations

from annotation.evaluation.aspects import (
    has_markers,
    merge_aspects,
    split_paragraph,
    train_classifier,
)
from tests.formats.conftest import EN_REASON, ZH_REASON


def test_english_markers():
    split = split_paragraph(EN_REASON)
    assert split.method == "markers"
    assert split.clues == {"facial": "the man frowns and raises his brows.", "vocal": "his voice is loud and fast.",
                           "verbal": "he asks why nobody told him.", "scene": "The office is dim."}
    assert split.conclusion == "Based on these clues, he is angry."


def test_chinese_markers():
    split = split_paragraph(ZH_REASON)
    assert split.clues == {"facial": "她眉头紧锁，嘴角下垂。", "vocal": "她的声音颤抖。", "verbal": "她说自己很害怕。",
                           "scene": "房间很暗。"}
    assert split.conclusion == "综上所述，她的情绪是担忧。"


def test_merge_then_split_is_stable():
    for text in (EN_REASON, ZH_REASON):
        split = split_paragraph(text)
        merged = merge_aspects(split.clues, conclusion=split.conclusion)
        again = split_paragraph(merged)
        assert again.clues == split.clues and again.conclusion == split.conclusion
    assert merge_aspects(split_paragraph(ZH_REASON).clues, conclusion=split_paragraph(ZH_REASON).conclusion) == ZH_REASON


def test_merge_in_emer_style():
    clues = {"facial": "He frowns.", "vocal": "His voice is loud.", "verbal": "", "scene": "A dark room."}
    assert merge_aspects(clues, emotion="angry") == (
        "In the video, he frowns. A dark room. In the audio, his voice is loud. "
        "Based on the above clues, the person's emotional state is most likely angry.")
    zh = merge_aspects({"facial": "他皱眉", "vocal": "声音很大"}, emotion="愤怒")
    assert zh == "在视频中，他皱眉。在音频中，声音很大。综合以上线索，人物的情绪状态最可能是愤怒。"


def test_classifier_without_markers():
    text = ("She glares at him and clenches her fists. Her voice is shaking and loud. "
            "She says you lied to me again. The kitchen is cluttered and dark. Therefore she is angry.")
    assert not has_markers(text)
    split = split_paragraph(text)
    assert split.method == "classifier"
    assert split.clues["facial"] == "She glares at him and clenches her fists."
    assert split.clues["vocal"] == "Her voice is shaking and loud."
    assert split.clues["verbal"] == "She says you lied to me again."
    assert split.clues["scene"] == "The kitchen is cluttered and dark."
    assert split.conclusion == "Therefore she is angry."


def test_classifier_learns_from_consensus_clues():
    classifier = train_classifier([{"facial": "AU12 and AU06 are active.", "scene": "Rain falls outside the window."}])
    assert classifier.predict(["AU04 and AU15 are active."]) == ["facial"]


def test_empty_paragraph():
    assert split_paragraph("").clues == {"facial": "", "vocal": "", "verbal": "", "scene": ""}
