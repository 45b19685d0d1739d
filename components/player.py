"""Clip player: video (or audio), waveform with clue spans, and a clickable word-timed transcript.

A `st.components.v2` component with inline HTML/CSS/JS. Everything that comes
from data (transcript words, span labels, names) reaches the browser as the
component's `data` and is written with `textContent`, never as markup.

Media is served through Streamlit's media file manager (the same route
`st.video` uses, with HTTP range requests so seeking works); only the URL
travels with the page, not the bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit import runtime

from core.vocabulary import ASPECTS

ASPECT_COLOURS = {"facial": "#e8590c", "vocal": "#1c7ed6", "verbal": "#2f9e44", "scene": "#9c36b5"}

_CSS = """
.cl-player { font-family: var(--st-font, sans-serif); color: var(--st-text-color, #262730); }
.cl-media video { width: 100%; max-height: 360px; background: #000; border-radius: 6px; display: block; }
.cl-media audio { width: 100%; }
.cl-media .cl-nomedia { padding: 1rem; border: 1px dashed #bbb; border-radius: 6px; color: #666; }
.cl-wave { width: 100%; height: 72px; display: block; cursor: pointer; margin-top: 6px;
           background: var(--st-secondary-background-color, #f0f2f6); border-radius: 4px; }
.cl-legend { font-size: 0.75rem; margin: 4px 0; display: flex; gap: 0.8rem; flex-wrap: wrap; }
.cl-legend span::before { content: ""; display: inline-block; width: 0.7rem; height: 0.7rem;
           margin-right: 0.25rem; border-radius: 2px; background: var(--swatch); vertical-align: -1px; }
.cl-words { line-height: 1.9; max-height: 9.5rem; overflow-y: auto; padding: 4px 2px; }
.cl-word { cursor: pointer; padding: 1px 2px; border-radius: 3px; }
.cl-word:hover { background: var(--st-secondary-background-color, #e9ecef); }
.cl-word.cl-estimated { text-decoration: underline dotted #adb5bd; }
.cl-word.cl-now { background: var(--st-primary-color, #ff4b4b); color: #fff; }
.cl-plain { white-space: pre-wrap; }
.cl-hint { font-size: 0.72rem; color: #888; }
"""

_JS = """
const COLOURS = %COLOURS%;

function el(tag, cls) { const e = document.createElement(tag); if (cls) e.className = cls; return e; }

function drawWave(state) {
  const { canvas, data, media } = state;
  const width = canvas.clientWidth || 600, height = canvas.clientHeight || 72;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = width * ratio; canvas.height = height * ratio;
  const ctx = canvas.getContext('2d');
  ctx.scale(ratio, ratio);
  ctx.clearRect(0, 0, width, height);
  const duration = state.duration();
  const spans = data.spans || [];
  const aspects = Object.keys(COLOURS);
  if (duration > 0) {
    for (const span of spans) {
      const row = Math.max(0, aspects.indexOf(span.aspect));
      const x0 = (span.start / duration) * width, x1 = (span.end / duration) * width;
      ctx.fillStyle = (COLOURS[span.aspect] || '#888') + '55';
      ctx.fillRect(x0, row * (height / 4), Math.max(2, x1 - x0), height / 4);
    }
  }
  const peaks = data.peaks || [];
  ctx.fillStyle = '#495057';
  if (peaks.length) {
    const step = width / peaks.length, mid = height / 2;
    for (let i = 0; i < peaks.length; i++) {
      const h = Math.max(1, Math.min(1, Math.abs(peaks[i])) * (height - 6));
      ctx.fillRect(i * step, mid - h / 2, Math.max(1, step - 0.5), h);
    }
  } else {
    ctx.fillRect(0, height / 2, width, 1);
  }
  if (media && duration > 0) {
    const x = (media.currentTime / duration) * width;
    ctx.fillStyle = '#e03131';
    ctx.fillRect(x - 1, 0, 2, height);
  }
}

function highlight(state) {
  const t = state.media ? state.media.currentTime : -1;
  for (const node of state.wordNodes) {
    const now = t >= node._start && t < node._end;
    node.classList.toggle('cl-now', now);
  }
}

function build(root, data) {
  root.textContent = '';
  const state = { data, media: null, wordNodes: [] };
  const mediaBox = el('div', 'cl-media');
  if (data.video_url) {
    const video = el('video'); video.controls = true; video.preload = 'metadata'; video.playsInline = true;
    video.src = data.video_url; state.media = video; mediaBox.appendChild(video);
  } else if (data.audio_url) {
    const audio = el('audio'); audio.controls = true; audio.preload = 'metadata';
    audio.src = data.audio_url; state.media = audio; mediaBox.appendChild(audio);
  } else {
    const none = el('div', 'cl-nomedia');
    none.textContent = data.has_media ? 'The media file is missing on the server.' : 'Text-only clip: no audio or video.';
    mediaBox.appendChild(none);
  }
  root.appendChild(mediaBox);
  state.duration = () => (state.media && isFinite(state.media.duration) && state.media.duration > 0)
      ? state.media.duration : (data.duration || 0);
  if (state.media || (data.peaks || []).length) {
    const canvas = el('canvas', 'cl-wave'); state.canvas = canvas; root.appendChild(canvas);
    canvas.addEventListener('click', (event) => {
      const rect = canvas.getBoundingClientRect();
      const d = state.duration();
      if (state.media && d > 0) { state.media.currentTime = ((event.clientX - rect.left) / rect.width) * d; }
    });
    if ((data.spans || []).length) {
      const legend = el('div', 'cl-legend');
      const seen = new Set(data.spans.map((s) => s.aspect));
      for (const [aspect, title] of Object.entries(data.aspect_titles || {})) {
        if (!seen.has(aspect)) continue;
        const item = el('span'); item.style.setProperty('--swatch', COLOURS[aspect] || '#888');
        item.textContent = title; legend.appendChild(item);
      }
      root.appendChild(legend);
    }
  }
  const words = el('div', 'cl-words');
  if ((data.words || []).length) {
    for (const w of data.words) {
      if (w.gap) words.appendChild(document.createTextNode(w.gap));
      const node = el('span', w.timing === 'estimated' ? 'cl-word cl-estimated' : 'cl-word');
      node.textContent = w.word; node._start = Number(w.start) || 0; node._end = Number(w.end) || node._start;
      node.title = (w.timing === 'estimated' ? '≈ ' : '') + node._start.toFixed(2) + ' s' + (w.timing ? ' (' + w.timing + ')' : '');
      node.addEventListener('click', () => {
        if (state.media) { state.media.currentTime = node._start + 0.001; highlight(state); drawWave(state); }
      });
      words.appendChild(node);
      state.wordNodes.push(node);
    }
    if (data.words_tail) words.appendChild(document.createTextNode(data.words_tail));
  } else if (data.transcript) {
    const plain = el('div', 'cl-plain'); plain.textContent = data.transcript; words.appendChild(plain);
  }
  root.appendChild(words);
  if (state.media) {
    const hint = el('div', 'cl-hint');
    hint.textContent = 'Click a word or the waveform to seek · Alt+P play/pause';
    root.appendChild(hint);
    if (data.timing_note && (data.words || []).length) {
      const note = el('div', 'cl-hint cl-timing-note'); note.textContent = data.timing_note; root.appendChild(note);
    }
    const redraw = () => { drawWave(state); highlight(state); };
    for (const name of ['timeupdate', 'seeked', 'loadedmetadata']) state.media.addEventListener(name, redraw);
  }
  root._state = state;
  requestAnimationFrame(() => drawWave(state));
  return state;
}

export default function (component) {
  const { data, parentElement } = component;
  let root = parentElement.querySelector('.cl-player');
  if (!root) { root = el('div', 'cl-player'); parentElement.appendChild(root); }
  const signature = JSON.stringify([data.clip_id, data.video_url, data.audio_url, data.words, data.words_tail, data.spans, data.peaks]);
  if (root._signature !== signature) { root._signature = signature; build(root, data); }
  const state = root._state;
  const onKey = (event) => {
    if (event.altKey && !event.ctrlKey && !event.metaKey && event.key.toLowerCase() === 'p' && state.media) {
      event.preventDefault();
      if (state.media.paused) { state.media.play(); } else { state.media.pause(); }
    }
  };
  const onResize = () => drawWave(state);
  document.addEventListener('keydown', onKey);
  window.addEventListener('resize', onResize);
  return () => { document.removeEventListener('keydown', onKey); window.removeEventListener('resize', onResize); };
}
"""

_COMPONENT = st.components.v2.component(
    "cluelab_player",
    css=_CSS,
    js=_JS.replace("%COLOURS%", json.dumps(ASPECT_COLOURS)),
)


def media_url(path: Path, mimetype: str, slot: str) -> str | None:
    """A URL the browser can stream `path` from, or None when the file is missing."""
    if not path.is_file() or not runtime.exists():
        return None
    return runtime.get_instance().media_file_mgr.add(str(path), mimetype, f"cluelab-player-{slot}")


def player_data(clip: Any, *, data_dir: Path, spans: list[dict[str, Any]] | None = None,
                slot: str = "main") -> dict[str, Any]:
    """The component's data for a clip (JSON only; no markup)."""
    video = data_dir / clip.video_path if clip.video_path else None
    audio = data_dir / clip.audio_path if clip.audio_path else None
    video_url = media_url(video, "video/mp4", f"{slot}-video") if video and clip.has_video else None
    audio_url = None
    if video_url is None and audio is not None and clip.has_audio:
        audio_url = media_url(audio, "audio/wav", f"{slot}-audio")
    words, tail = _words(clip)
    timing = _timing(clip, words)
    return {
        "clip_id": clip.id,
        "video_url": video_url,
        "audio_url": audio_url,
        "has_media": bool(clip.video_path or clip.audio_path),
        "duration": float(clip.duration or 0),
        "peaks": [float(p) for p in (clip.peaks or [])],
        "words": words,
        "words_tail": tail,
        "transcript": clip.transcript or "",
        "timing": timing,
        "timing_note": TIMING_NOTES.get(timing or "", ""),
        "spans": [
            {"aspect": str(s.get("aspect", "")), "start": float(s.get("start") or 0), "end": float(s.get("end") or 0),
             "label": str(s.get("label", ""))}
            for s in (spans or []) if s.get("aspect") in ASPECT_COLOURS
        ],
        "aspect_titles": {a.value: a.title for a in ASPECTS},
    }


TIMING_NOTES = {
    "estimated": "Some word times are estimated (spread over a subtitle line, or between words heard in the "
                 "speech): clicking such a word (dotted) seeks near it, not exactly to it.",
}


def _words(clip: Any) -> tuple[list[dict[str, Any]], str]:
    """The clip's timed words, each with `gap`, the transcript's text before it (punctuation, spaces), so the
    words with their gaps and the tail read exactly as the transcript. Words stored without offsets are
    found in the transcript in order; only words it does not hold are shown space-separated."""
    text = clip.transcript or ""
    raw = [w for w in (clip.transcript_words or []) if str(w.get("word", "")).strip()]
    offsets = _offsets(text, raw)
    words, at = [], 0
    for n, w in enumerate(raw):
        word = str(w["word"])
        if offsets is not None:
            gap, at = text[at:offsets[n]], offsets[n] + len(word)
        else:  # no space before punctuation ("Hello, world!", not "Hello , world !")
            gap = "" if n == 0 or not any(ch.isalnum() for ch in word) else " "
        words.append({"word": word, "start": float(w.get("start") or 0), "end": float(w.get("end") or 0),
                      "timing": str(w.get("timing") or _default_timing(clip) or ""), "gap": gap})
    return words, (text[at:] if offsets is not None and raw else "")


def _offsets(text: str, raw: list[dict[str, Any]]) -> list[int] | None:
    """Where each word starts in the transcript: the stored offsets where they hold, else each word found
    after the previous one; None when a word is not there."""
    stored = [w.get("at") for w in raw]
    at = 0
    for w, offset in zip(raw, stored, strict=True):
        word = str(w["word"])
        if not isinstance(offset, int) or offset < at or text[offset:offset + len(word)] != word:
            break
        at = offset + len(word)
    else:
        return stored  # type: ignore[return-value]
    found, at = [], 0
    for w in raw:
        word = str(w["word"])
        offset = text.find(word, at)
        if offset < 0:
            return None
        found.append(offset)
        at = offset + len(word)
    return found


def _default_timing(clip: Any) -> str | None:
    """Words stored before timings were marked: ASR's are real, a subtitle's spread over its cues."""
    return {"asr": "asr", "subtitle": "estimated"}.get(clip.transcript_source or "")


def _timing(clip: Any, words: list[dict[str, Any]]) -> str | None:
    stored = (clip.meta or {}).get("transcript_timing")
    if stored:
        return str(stored)
    kinds = {w["timing"] for w in words if w["timing"]}
    for kind in ("estimated", "aligned", "asr"):
        if kind in kinds:
            return kind
    return None


def player(clip: Any, *, data_dir: Path, spans: list[dict[str, Any]] | None = None, key: str = "player") -> None:
    """Mount the player for `clip` (a db.models.Clip)."""
    _COMPONENT(data=player_data(clip, data_dir=data_dir, spans=spans, slot=key), key=key)
