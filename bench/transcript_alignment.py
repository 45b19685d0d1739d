"""How close aligned word times come to the truth, against spreading a transcript evenly over the speech.

Each sentence is spoken word by word with espeak-ng (English, or Mandarin pinyin) and the words are laid end to
end with known pauses, so every word's true start is known. The given transcript (with its punctuation and, for
Mandarin, its characters) is aligned to Whisper base's word times (annotation.ingest.transcripts.align_words);
the baseline spreads it over the speech by character count, as a subtitle cue does. Whisper's word starts are
first moved to where sound begins (model.features.speech.snap_to_onsets), as feature extraction does.
Run: PYTHONPATH=. python bench/transcript_alignment.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from annotation.ingest.transcripts import ALIGNED, align_words, spread
from model.features.media import load_audio
from model.features.speech import snap_to_onsets, transcribe

SR = 16000
SENTENCES = [
    ("en", None, "Thank you, very much! For the wonderful dinner, my friend.",
     ["Thank", "you", "very", "much", "For", "the", "wonderful", "dinner", "my", "friend"]),
    ("en", None, "Why did you not tell me about the meeting this morning?",
     ["Why", "did", "you", "not", "tell", "me", "about", "the", "meeting", "this", "morning"]),
    ("zh", "cmn-latn-pinyin", "我今天真的很生气，你为什么不告诉我？",
     ["wo3", "jin1 tian1", "zhen1 de", "hen3", "sheng1 qi4", "ni3", "wei4 shen2 me", "bu4", "gao4 su4", "wo3"]),
    ("zh", "cmn-latn-pinyin", "我很高兴见到你，我们明天再见。",
     ["wo3", "hen3", "gao1 xing4", "jian4 dao4", "ni3", "wo3 men", "ming2 tian1", "zai4 jian4"]),
]


def _word_audio(folder: Path, text: str, voice: str | None) -> np.ndarray:
    raw = folder / "w.wav"
    subprocess.run(["espeak-ng", *(["-v", voice] if voice else []), "-w", str(raw), text], check=True)
    out = folder / "w16.wav"
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(raw), "-ar", "16000", "-ac", "1", str(out)], check=True)
    audio = load_audio(out)
    loud = np.flatnonzero(np.abs(audio) > 0.02)
    return audio[loud[0]:loud[-1] + 1] if loud.size else audio


def main() -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="align-bench-"))
    rng = np.random.default_rng(0)
    for language, voice, text, spoken in SENTENCES:
        folder = Path(tempfile.mkdtemp(dir=data_dir))
        parts, truth, t = [np.zeros(int(0.3 * SR), np.float32)], [], 0.3
        for word in spoken:
            audio = _word_audio(folder, word, voice)
            truth.append(t)
            parts += [audio, np.zeros(int(rng.uniform(0.05, 0.6) * SR), np.float32)]
            t += audio.size / SR + parts[-1].size / SR
        audio = np.concatenate(parts).astype(np.float32)
        heard = transcribe(audio, data_dir=data_dir, language=language)
        heard["words"] = snap_to_onsets(heard["words"], audio)
        aligned = align_words(text, heard["words"])
        if language == "zh":  # the truth is per spoken unit: compare the start of each unit's first character
            firsts = np.cumsum([0] + [len(w.split()) for w in spoken[:-1]])
            char_offsets = [i for i, ch in enumerate(text) if "\u4e00" <= ch <= "\u9fff"]
            target = [char_offsets[f] for f in firsts]
            got = [next((w["start"] for w in aligned if w["at"] <= c < w["at"] + len(w["word"])), None) for c in target]
            even_words = spread(text, heard["words"][0]["start"], heard["words"][-1]["end"])
            even = [next(w["start"] for w in even_words if w["at"] <= c < w["at"] + len(w["word"])) for c in target]
        else:
            got = [w["start"] for w in aligned]
            even = [w["start"] for w in spread(text, heard["words"][0]["start"], heard["words"][-1]["end"])]
        error = np.abs(np.array(got, float) - np.array(truth))
        even_error = np.abs(np.array(even, float) - np.array(truth))
        share = sum(w["timing"] == ALIGNED for w in aligned) / len(aligned)
        print(f"{language} heard {heard['text']!r}\n  aligned words {share:.0%}; start error median "
              f"{np.median(error):.2f} s, max {error.max():.2f} s; spread evenly: median {np.median(even_error):.2f} s,"
              f" max {even_error.max():.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
