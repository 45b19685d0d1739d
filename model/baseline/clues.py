"""Clue sentences per aspect that cite what was measured, in English or Chinese.

Each function returns (sentence, spans). An aspect without evidence says so
plainly instead of guessing.
"""

from __future__ import annotations

from typing import Any

from core.vocabulary import Aspect
from model.baseline.fusion import speech_rate
from model.features.face import AU_ACTIVE

AU_PHRASES: dict[str, tuple[str, str]] = {
    "AU1": ("inner brows raised", "眉头内侧上扬"),
    "AU2": ("outer brows raised", "眉梢上挑"),
    "AU4": ("brows drawn together", "皱眉"),
    "AU5": ("eyes widened", "睁大眼睛"),
    "AU6": ("cheeks raised", "脸颊上提"),
    "AU7": ("eyelids tightened", "眯眼"),
    "AU9": ("nose wrinkled", "皱鼻"),
    "AU12": ("lip corners pulled up", "嘴角上扬"),
    "AU15": ("lip corners pulled down", "嘴角下垂"),
    "AU17": ("chin raised", "下巴上抬"),
    "AU20": ("lips stretched", "嘴唇横向拉伸"),
    "AU24": ("lips pressed", "抿嘴"),
    "AU26": ("jaw dropped", "张嘴"),
    "AU43": ("eyes closed", "闭眼"),
}
EXPRESSION_ZH = {"angry": "生气", "disgust": "厌恶", "fear": "恐惧", "happy": "高兴", "sad": "悲伤",
                 "surprise": "惊讶", "neutral": "中性"}
COLOUR_ZH = {"grey": "灰", "red": "红", "orange": "橙", "yellow": "黄", "green": "绿", "blue": "蓝", "purple": "紫"}


def _zh(language: str) -> bool:
    return language.startswith("zh")


def _span(aspect: Aspect, start: float | None, end: float | None, label: str) -> list[dict[str, Any]]:
    if start is None:
        return []
    end = max(float(end if end is not None else start), float(start))
    return [{"aspect": aspect.value, "start": round(max(0.0, float(start)), 2), "end": round(end, 2), "label": label}]


def facial_clue(face: dict[str, Any] | None, language: str) -> tuple[str, list[dict[str, Any]]]:
    zh = _zh(language)
    if not face or not face.get("frames"):
        return ("没有画面，无法观察面部。" if zh else "No video frames, so no facial evidence."), []
    if not face.get("frames_with_face"):
        return ("采样画面中未发现人脸。" if zh else "No face found in the sampled frames."), []
    if not face.get("au"):
        seen = f"{face['frames_with_face']}/{face['frames']}"
        lead = (f"画面中有人脸（{seen} 帧），但无法读取面部动作" if zh else
                f"A face is visible ({seen} frames) but its movements could not be read")
        expression = face.get("expression") or {}
        if expression:
            top = max(expression, key=expression.get)
            lead += (f"；表情模型：{EXPRESSION_ZH.get(top, top)} {expression[top]:.2f}" if zh else
                     f"; expression model: {top} {expression[top]:.2f}")
        return lead + ("。" if zh else "."), []
    active = sorted(((au, v) for au, v in (face.get("au") or {}).items() if au in AU_PHRASES and v["max"] >= AU_ACTIVE),
                    key=lambda item: -item[1]["max"])[:3]
    parts: list[str] = []
    spans: list[dict[str, Any]] = []
    if active:
        names = ("、" if zh else " and ").join(AU_PHRASES[au][1 if zh else 0] for au, _ in active)
        values = ", ".join(f"{au} {v['max']:.2f}" for au, v in active)
        onset = active[0][1].get("onset")
        if onset is None:
            when = ""
        elif onset <= 0.05:
            when = "开场即" if zh else " from the start"
        else:
            when = f"{onset:.1f} 秒起" if zh else f" from {onset:.1f} s"
        parts.append(f"{when}{names}（{values}）" if zh else f"{names[0].upper()}{names[1:]}{when} ({values})")
        spans += _span(Aspect.facial, onset, active[0][1].get("peak_time"), active[0][0])
    else:
        strongest = max((face.get("au") or {}).items(), key=lambda item: item[1]["max"], default=None)
        detail = f"{strongest[0]} {strongest[1]['max']:.2f}" if strongest else ""
        parts.append(f"面部较平静，无明显动作单元（最强 {detail}）" if zh else
                     f"Face fairly still, no action cue above {AU_ACTIVE:.1f}" + (f" (strongest {detail})" if detail else ""))
    head = face.get("head") or {}
    if head.get("yaw_range", 0) >= 15:
        parts.append(f"头部左右转动（偏航 {head['yaw_range']:.0f}°）" if zh else f"head turns ({head['yaw_range']:.0f}° yaw)")
    elif head.get("pitch_range", 0) >= 12:
        parts.append(f"点头或低头（俯仰 {head['pitch_range']:.0f}°）" if zh else f"head nods ({head['pitch_range']:.0f}° pitch)")
    expression = face.get("expression") or {}
    if expression:
        top = max(expression, key=expression.get)
        parts.append(f"表情模型：{EXPRESSION_ZH.get(top, top)} {expression[top]:.2f}" if zh else
                     f"expression model: {top} {expression[top]:.2f}")
    if face.get("max_faces", 0) > 1:
        parts.append(f"画面中有 {face['max_faces']} 张脸" if zh else f"{face['max_faces']} faces in view")
    return ("；".join(parts) + "。") if zh else ("; ".join(parts) + "."), spans


def vocal_clue(voice: dict[str, Any] | None, features: dict[str, dict[str, Any]], language: str) -> tuple[str, list[dict[str, Any]]]:
    zh = _zh(language)
    if not voice or voice.get("no_audio"):
        return ("没有音轨，无法判断语气。" if zh else "No audio track, so no vocal evidence."), []
    if not voice.get("has_voice"):
        return ("音频基本无声，没有语音证据。" if zh else "The audio is silent: no vocal evidence."), []
    parts: list[str] = []
    spans: list[dict[str, Any]] = []
    pitch = voice.get("pitch") or {}
    usual = features.get("speaker") or {}
    if pitch:
        # The speaker's usual pitch over their clips when known, else this clip's own median.
        reference = usual.get("pitch_hz") or pitch["median_hz"]
        where = (f"说话人平时的中位数（{reference:.0f} Hz，{usual['clips']} 段）" if zh else
                 f"the speaker's usual median ({reference:.0f} Hz over {usual['clips']} clips)") if usual.get("pitch_hz") \
            else (f"说话人中位数（{reference:.0f} Hz）" if zh else f"the speaker's median ({reference:.0f} Hz)")
        rise = 100 * (pitch["p95_hz"] / reference - 1) if pitch.get("p95_hz") else 0.0
        if rise >= 20:
            parts.append(f"音高升至 {pitch['p95_hz']:.0f} Hz，比{where}高 {rise:.0f}%" if zh else
                         f"Pitch rises to {pitch['p95_hz']:.0f} Hz, {rise:.0f}% above {where}")
            spans += _span(Aspect.vocal, (pitch.get("peak_time") or 0) - 0.3, (pitch.get("peak_time") or 0) + 0.3, "pitch peak")
        elif usual.get("pitch_hz") and abs(pitch["median_hz"] / reference - 1) >= 0.1:
            shift = 100 * (pitch["median_hz"] / reference - 1)
            parts.append(f"整体音高 {pitch['median_hz']:.0f} Hz，比{where}{'高' if shift > 0 else '低'} {abs(shift):.0f}%" if zh else
                         f"Pitch {pitch['median_hz']:.0f} Hz overall, {abs(shift):.0f}% {'above' if shift > 0 else 'below'} {where}")
        else:
            flat = (pitch.get("range_semitones") or 0) < 4
            parts.append((f"音高{'平稳' if flat else '有起伏'}，中位数 {pitch['median_hz']:.0f} Hz，音域 {pitch.get('range_semitones', 0):.1f} 个半音") if zh else
                         f"{'Flat' if flat else 'Varied'} pitch around {pitch['median_hz']:.0f} Hz ({pitch.get('range_semitones', 0):.1f} semitones range)")
        slope = pitch.get("end_slope_st_per_s") or 0.0
        if abs(slope) >= 4:
            parts.append(("句尾上扬" if slope > 0 else "句尾下降") if zh else ("rising at the end" if slope > 0 else "falling at the end"))
    loud = voice.get("intensity") or {}
    if (loud.get("rise_db") or 0) >= 8:
        parts.append(f"音量最高比中位数高 {loud['rise_db']:.0f} dB" if zh else f"loudness swells {loud['rise_db']:.0f} dB above its median")
    rate = speech_rate(features)
    if rate:
        pace = ("语速快" if rate >= 4.5 else "语速慢" if rate < 2.5 else "语速适中") if zh else \
            ("fast speech" if rate >= 4.5 else "slow speech" if rate < 2.5 else "moderate pace")
        parts.append(f"{pace}，每秒 {rate:.1f} 个音节" if zh else f"{pace}, {rate:.1f} syllables/s")
    if voice.get("pauses"):
        parts.append(f"停顿 {voice['pauses']} 次，最长 {voice['longest_pause']:.1f} 秒" if zh else
                     f"{voice['pauses']} pause{'s' if voice['pauses'] > 1 else ''}, longest {voice['longest_pause']:.1f} s")
    jitter, shimmer, hnr = voice.get("jitter"), voice.get("shimmer"), voice.get("hnr_db")
    if (jitter or 0) >= 0.02 or (shimmer or 0) >= 0.12:
        parts.append(f"声音不稳（jitter {100 * (jitter or 0):.1f}%，shimmer {100 * (shimmer or 0):.0f}%）" if zh else
                     f"unsteady voice (jitter {100 * (jitter or 0):.1f}%, shimmer {100 * (shimmer or 0):.0f}%)")
    elif hnr is not None and hnr < 8:
        parts.append(f"气声较重（HNR {hnr:.0f} dB）" if zh else f"breathy voice (HNR {hnr:.0f} dB)")
    if not parts:
        parts.append("有语音，但语调特征不明显" if zh else "Voice present but without marked prosodic cues")
    return ("；".join(parts) + "。") if zh else ("; ".join(parts) + "."), spans


def verbal_clue(speech: dict[str, Any] | None, text: dict[str, Any] | None, language: str) -> tuple[str, list[dict[str, Any]]]:
    zh = _zh(language)
    said = ((speech or {}).get("text") or "").strip()
    if not said:
        return ("没有说话内容。" if zh else "Nothing is said: no verbal evidence."), []
    quote = said if len(said) <= 90 else said[:87] + "…"
    score = (text or {}).get("sentiment", 0.0) or 0.0
    tool = "pysenti" if (text or {}).get("language", language).startswith("zh") else "VADER"
    mood = ("负面" if score <= -0.3 else "正面" if score >= 0.3 else "中性") if zh else \
        ("negative" if score <= -0.3 else "positive" if score >= 0.3 else "neutral")
    parts = [f"说：“{quote}”；情感倾向{mood}（{score:+.2f}，{tool}）" if zh else
             f'Says "{quote}"; sentiment {mood} ({score:+.2f}, {tool})']
    words = (text or {}).get("emotion_words") or []
    if words:
        parts.append(("情绪词：" + "、".join(words[:4])) if zh else ("emotion words: " + ", ".join(f'"{w}"' for w in words[:4])))
    if (text or {}).get("questions"):
        parts.append("带有疑问" if zh else "asks a question")
    timings = (speech or {}).get("words") or []
    spans = _span(Aspect.verbal, timings[0]["start"], timings[-1]["end"], "speech") if timings else []
    return ("；".join(parts) + "。") if zh else ("; ".join(parts) + "."), spans


def scene_clue(scene: dict[str, Any] | None, language: str) -> tuple[str, list[dict[str, Any]]]:
    zh = _zh(language)
    if not scene or not scene.get("frames"):
        return ("没有画面，无法描述场景。" if zh else "No video frames, so no scene evidence."), []
    b = scene.get("brightness", 0.0)
    light = ("昏暗" if b < 0.3 else "明亮" if b > 0.65 else "光线适中") if zh else ("dim" if b < 0.3 else "bright" if b > 0.65 else "evenly lit")
    colour = scene.get("colour", "grey")
    tone = (f"{COLOUR_ZH.get(colour, colour)}色调" if zh else f"{colour} tones")
    motion = scene.get("motion", 0.0)
    moving = ("画面变化大" if motion > 0.08 else "画面较稳定") if zh else ("lively motion" if motion > 0.08 else "little motion")
    parts = [f"{light}、{tone}（亮度 {b:.2f}）；{moving}（{motion:.2f}/秒）" if zh else
             f"{light[0].upper()}{light[1:]} scene with {tone} (brightness {b:.2f}); {moving} ({motion:.2f}/s)"]
    faces = scene.get("faces_max", 0)
    if faces:
        parts.append(f"画面中 {faces} 人" if zh else f"{faces} {'person' if faces == 1 else 'people'} in view")
    else:
        parts.append("未见人物" if zh else "no person in view")
    if scene.get("cut_count"):
        parts.append(f"{scene['cut_count']} 次镜头切换" if zh else f"{scene['cut_count']} cut{'s' if scene['cut_count'] > 1 else ''}")
    if scene.get("text"):
        shown = " / ".join(scene["text"][:3])
        parts.append(f"屏幕文字：“{shown}”" if zh else f'on-screen text: "{shown}"')
    spans = _span(Aspect.scene, scene.get("motion_peak_time"), scene.get("motion_peak_time"), "motion peak") if motion > 0.08 else []
    return ("；".join(parts) + "。") if zh else ("; ".join(parts) + "."), spans


def measured_clues(features: dict[str, dict[str, Any]], language: str) -> tuple[dict[Aspect, str], list[dict[str, Any]]]:
    """All four clues and their spans from one clip's features."""
    results = {
        Aspect.facial: facial_clue(features.get("face"), language),
        Aspect.vocal: vocal_clue(features.get("voice"), features, language),
        Aspect.verbal: verbal_clue(features.get("speech"), features.get("text"), language),
        Aspect.scene: scene_clue(features.get("scene"), language),
    }
    clues = {aspect: sentence for aspect, (sentence, _) in results.items()}
    spans = [span for _, aspect_spans in results.values() for span in aspect_spans]
    return clues, spans


def has_evidence(features: dict[str, dict[str, Any]], aspect: Aspect) -> bool:
    if aspect is Aspect.facial:
        return bool((features.get("face") or {}).get("frames_with_face"))
    if aspect is Aspect.vocal:
        return bool((features.get("voice") or {}).get("has_voice"))
    if aspect is Aspect.verbal:
        return bool(((features.get("speech") or {}).get("text") or "").strip())
    return bool((features.get("scene") or {}).get("frames"))
