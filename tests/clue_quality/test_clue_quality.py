"""Reference-free clue checks on hand-made features: grounding, consistency, modality coverage."""

from __future__ import annotations

import numpy as np
import pytest

from annotation.evaluation.clue_quality import (
    OK,
    UNKNOWN,
    UNSUPPORTED,
    assess,
    consistency_scores,
    grounding_claims,
    modality_coverage,
    substring_cer,
)

FACE = {"frames": 10, "frames_with_face": 9, "au": {"AU12": {"max": 0.08}, "AU4": {"max": 0.55},
                                                     "AU1": {"max": 0.1}, "AU2": {"max": 0.35}}}
VOICE = {"has_voice": True, "intensity": {"rise_db": 2.5}, "pitch": {"rise_pct": 31.0},
         "syllable_rate_est": 5.1, "pauses": 0, "jitter": 0.01, "shimmer": 0.05}
SCENE = {"frames": 10, "brightness": 0.7, "faces_max": 1}


def statuses(claims):
    return {c.claim: c.status for c in claims}


def test_substring_cer_by_hand():
    assert substring_cer("can't believe it", "Well, I really can't believe it!") == 0.0
    # "cant beleive it" vs the stretch "cantbelieveit": one transposition = two substitutions over 13 characters.
    assert substring_cer("cant beleive it", "I really can't believe it") == pytest.approx(2 / 13)
    # 真的 is missing from the quote: two edits over six characters.
    assert substring_cer("我今天很生气", "我今天真的很生气，你为什么不告诉我") == pytest.approx(2 / 6)
    assert substring_cer("completely different", "nothing alike here") > 0.5
    assert substring_cer("", "x") == 0.0 and substring_cer("abc", "") == 1.0


def test_substring_cer_takes_the_best_stretch():
    # kitten -> "sittin" (k/s, e/i): 2 of 6; flaw -> "law": one deletion, 1 of 4.
    assert substring_cer("kitten", "sitting") == pytest.approx(2 / 6)
    assert substring_cer("flaw", "lawn") == pytest.approx(1 / 4)


def test_facial_claims_follow_the_action_units():
    claims = grounding_claims({"facial": "She smiles, brows drawn together, then raised brows."}, {"face": FACE}, "")
    assert statuses(claims) == {"smile": UNSUPPORTED, "frown": OK, "raised brows": OK}
    smile = next(c for c in claims if c.claim == "smile")
    assert "AU12 peaks at 0.08" in smile.detail
    none = grounding_claims({"facial": "He smiles."}, {"face": {"frames": 8, "frames_with_face": 0}}, "")
    assert [c.status for c in none] == [UNSUPPORTED] and "no face found" in none[0].detail
    unmeasured = grounding_claims({"facial": "He smiles."}, {}, "")
    assert [c.status for c in unmeasured] == [UNKNOWN]


def test_vocal_claims_follow_the_prosody():
    claims = grounding_claims({"vocal": "A raised voice, high pitch, speaks quickly with long pauses."},
                              {"voice": VOICE}, "")
    assert statuses(claims) == {"raised voice": UNSUPPORTED, "high pitch": OK, "fast speech": OK,
                                "pauses": UNSUPPORTED}


def test_quotes_must_be_in_the_transcript():
    transcript = "我今天真的很生气，你为什么不告诉我"
    claims = grounding_claims({"verbal": "他说“你为什么不告诉我”，又说“我们去吃饭吧”。"}, {}, transcript)
    assert [c.status for c in claims] == [OK, UNSUPPORTED]
    no_text = grounding_claims({"verbal": 'She says "hello there".'}, {}, "")
    assert [c.status for c in no_text] == [UNKNOWN]


def test_scene_claims():
    claims = grounding_claims({"scene": "A dim room; he is alone."}, {"scene": SCENE}, "")
    assert statuses(claims) == {"dim scene": UNSUPPORTED, "alone": OK}


def test_grounding_score_per_aspect():
    quality = assess({"facial": "She smiles and frowns.", "vocal": "Steady."}, emotion=None,
                     features={"face": FACE, "voice": VOICE}, transcript="", candidates=[], embed=None)
    assert quality.grounding("facial") == 0.5
    assert quality.grounding("vocal") is None  # nothing checkable
    assert quality.consistent is None


def test_modality_coverage_ignores_no_evidence_statements():
    clues = {"facial": "No face found in the sampled frames.", "vocal": "Pitch rises to 240 Hz.",
             "verbal": "Nothing is said: no verbal evidence.", "scene": "Bright scene with red tones."}
    assert modality_coverage(clues) == {"audio": True, "visual": True, "content": False}
    assert modality_coverage({"facial": "", "scene": "没有画面，无法描述场景。"})["visual"] is False


def test_consistency_margin_by_hand():
    # A hand-made embedding: the reasoning sits between the angry and happy prototypes, nearer angry.
    vectors = {"reason": [0.8, 0.6, 0.0], "angry": [1.0, 0.0, 0.0], "happy": [0.0, 1.0, 0.0],
               "sad": [0.0, 0.0, 1.0]}

    def embed(texts):
        out = []
        for text in texts:
            key = "reason" if text == "reason" else next(k for k in ("angry", "happy", "sad") if k in text)
            out.append(vectors[key])
        return np.asarray(out, dtype=float)

    result = consistency_scores(["reason", "reason", ""], ["angry", "happy", "sad"], ["angry", "happy", "sad"],
                                embed=embed)
    assert result[0] == pytest.approx((0.2, True, "angry"))
    assert result[1][0] == pytest.approx(-0.2) and result[1][1:] == (False, "angry")
    assert result[2] == (None, None, None)  # no reasoning text


def test_consistency_with_the_real_multilingual_encoder():
    from annotation.embeddings import embed

    text = ["He frowns and shouts at her, his words are hostile and irritated.",
            "她一直在笑，声音轻快，说今天特别开心。"]
    result = consistency_scores(text * 2, ["angry", "happy", "happy", "angry"],
                                ["neutral", "angry", "happy", "sad", "worried", "surprise"], embed=embed)
    assert result[0][1] and result[1][1]
    assert not result[2][1] and result[2][2] == "angry"
    assert not result[3][1] and result[3][2] == "happy"
