"""Emotion-LLM pre-annotation speed: ClueLab's predict path against plain transformers `generate`.

Both paths get the same clips (transcript, measured evidence, frames and audio), the same prompts,
the same random-weight models (vision encoder, audio encoder, projectors, LLaMA-class LM) and the
same batch size, in the same run:

- ClueLab: prompts sorted by length, media prepared one batch ahead, encoders batched apart from
  the LM, the emotion distribution scored inside the prefill, JSON skeleton fed, clue strings
  decoded (dynamic cache; and static cache + torch.compile of the decode step).
- transformers: the same prompt embeddings in arrival order, `generate` with the dynamic cache, and
  with the static cache + compile; it yields text only (no emotion distribution).

Each path makes the same number of new tokens per clip (generate: min = max = --new-tokens; ClueLab:
its per-field budget fills --new-tokens on a random model, counted and printed).

Run: PYTHONPATH=. python bench/llm_predict.py [--clips 16] [--batch 8] [--new-tokens 150] [--no-compile]
     PYTHONPATH=. python bench/llm_predict.py --gpu [--gqa] [--batch 128] [--rows dynamic,compile]
       --gpu: the Emotion-LLaMA target shapes (LLaMA-2-7B LM) on CUDA; --gqa: the Qwen2.5-7B LM shape instead
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# Shapes: a small model that runs on 2 CPU cores, and the Emotion-LLaMA target for one GPU.
SHAPES = {
    "cpu": {
        "lm": {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 8, "num_key_value_heads": 8,
               "intermediate_size": 688, "vocab_size": 4000},
        "vision": {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 256,
                   "image_size": 64, "patch_size": 16},
        "audio": {"d_model": 128, "encoder_layers": 2, "encoder_attention_heads": 4, "encoder_ffn_dim": 256,
                  "num_mel_bins": 80, "max_source_positions": 200, "chunk_seconds": 4},
        "frames": 4, "prompt_tokens": 320, "new_tokens": 150, "batch": 8, "clips": 16, "dtype": "float32",
    },
    "gpu": {  # LLaMA-2-7B, CLIP ViT-L/14, Whisper-large encoder; 8 frames; 320-token prompt; 150 new tokens
        "lm": {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
               "intermediate_size": 11008, "vocab_size": 32000},
        "vision": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096,
                   "image_size": 224, "patch_size": 14},
        "audio": {"d_model": 1280, "encoder_layers": 32, "encoder_attention_heads": 20, "encoder_ffn_dim": 5120,
                  "num_mel_bins": 128, "max_source_positions": 1500, "chunk_seconds": 30},
        "frames": 8, "prompt_tokens": 320, "new_tokens": 150, "batch": 32, "clips": 256, "dtype": "bfloat16",
    },
}
# The GQA LM shape (Qwen2.5-7B: 4 KV heads for 28 query heads), with the same encoders.
SHAPES["gqa"] = {**SHAPES["gpu"], "lm_class": "qwen2",
                 "lm": {"hidden_size": 3584, "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4,
                        "intermediate_size": 18944, "vocab_size": 152064}}
SAID = ("I really did not expect you to come back so soon and I do not know what to say about it "
        "我 今天 真的 很 生气 你 为什么 不 告诉 我 this is wonderful news for all of us")
WORDS = SAID.split(" ")
LABELS = ["neutral", "angry", "happy", "sad", "worried", "surprise"]
ROWS = [f"{path}-{setting}" for path in ("generate", "cluelab") for setting in ("dynamic", "static", "compile")]


def build_parts(shape: dict, device, dtype, workdir: Path) -> dict:  # noqa: ANN001
    """Random-weight models of the given shapes, built in memory (nothing is downloaded)."""
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        CLIPVisionModel,
        LlamaConfig,
        LlamaForCausalLM,
        Qwen2Config,
        Qwen2ForCausalLM,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperModel,
    )

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.model.llm_factory import build_tokenizer

    tokenizer = build_tokenizer(workdir / "tokenizer")
    lm = dict(shape["lm"])
    vocab = max(lm.pop("vocab_size"), len(tokenizer))
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            config_class, model_class = ((Qwen2Config, Qwen2ForCausalLM) if shape.get("lm_class") == "qwen2"
                                         else (LlamaConfig, LlamaForCausalLM))
            model = model_class(config_class(vocab_size=vocab, max_position_embeddings=4096,
                                             pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                                             eos_token_id=tokenizer.eos_token_id, **lm))
            vision = CLIPVisionModel(CLIPVisionConfig(**shape["vision"]))
            audio_shape = {k: v for k, v in shape["audio"].items() if k != "chunk_seconds"}
            audio = WhisperModel(WhisperConfig(decoder_layers=1, decoder_attention_heads=4, decoder_ffn_dim=64,
                                               max_target_positions=32, vocab_size=100, pad_token_id=1, bos_token_id=2,
                                               eos_token_id=3, decoder_start_token_id=2, **audio_shape))
    finally:
        torch.set_default_dtype(previous)
    size = shape["vision"]["image_size"]
    return {"tokenizer": tokenizer, "lm": model, "vision": vision,
            "image_processor": CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size}),
            "audio": audio, "feature_extractor": WhisperFeatureExtractor(feature_size=shape["audio"]["num_mel_bins"],
                                                                         chunk_length=shape["audio"]["chunk_seconds"])}


def make_clips(count: int, frames: int, workdir: Path) -> list:
    """Clips with frames, 4 s of audio, a transcript of varied length and the baseline's measured evidence."""
    import cv2
    import soundfile as sf

    from model.base import ClipInput
    from tests.model.conftest import LEARNABLE, drawn_face, synthetic_features

    rng = random.Random(0)
    media = []
    for k in range(4):  # a few media sets, shared round-robin
        folder = workdir / f"media{k}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(frames):
            cv2.imwrite(str(folder / f"{i:04d}.jpg"), cv2.cvtColor(drawn_face(i / frames, size=(240, 320)),
                                                                    cv2.COLOR_RGB2BGR))
        wave = 0.1 * np.sin(np.linspace(0, 4 * 2 * np.pi * (150 + 40 * k), 16000 * 4)).astype(np.float32)
        sf.write(str(workdir / f"audio{k}.wav"), wave, 16000)
        media.append((folder, workdir / f"audio{k}.wav"))
    clips = []
    for n in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(0, 30))]
        frames_dir, audio = media[n % len(media)]
        emotion = LEARNABLE[n % 3]
        clips.append(ClipInput(name=f"clip{n:04d}", clip_id=n, frames_dir=frames_dir, audio_path=audio, duration=4.0,
                               transcript=" ".join(words), language="en",
                               features=synthetic_features(emotion, rng)))
    return clips


def plain_generate(host, clips: list, *, batch: int, new_tokens: int, static: bool, compile_: bool) -> tuple[float, int]:  # noqa: ANN001
    """transformers `generate` on the same prompt embeddings, arrival order, no label scoring."""
    import torch
    from transformers import GenerationConfig

    from model.emotion_llm.engine import assemble

    config = GenerationConfig(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                              pad_token_id=host.pad_id, eos_token_id=host.tokenizer.eos_token_id)
    if static:
        config.cache_implementation = "static"
    if compile_:
        from transformers.generation.configuration_utils import CompileConfig

        config.compile_config = CompileConfig(mode="reduce-overhead" if host.device.type == "cuda" else "default")
        config.compile_config._compile_all_devices = True
    else:
        config.disable_compile = True
    tokens = 0
    started = time.perf_counter()
    for first in range(0, len(clips), batch):
        prepared = [host.prepare(c, LABELS, media=True) for c in clips[first:first + batch]]
        with torch.inference_mode():
            modal = host.encode(prepared)
            embeds, mask, _ = assemble([p.ids for p in prepared], modal, host.embed, pad_id=host.pad_id,
                                       device=host.device)
            out = host.lm.generate(inputs_embeds=embeds, attention_mask=mask.long(), generation_config=config)
        tokens += int(out.shape[0] * out.shape[1])
    if host.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started, tokens


def release(host) -> None:  # noqa: ANN001
    """Drop ClueLab's kept static cache and compiled step, and the allocator's free blocks."""
    import gc

    import torch

    from model.emotion_llm.engine import DecodeState

    host.decode_state = DecodeState()
    gc.collect()
    torch.cuda.empty_cache()


def cluelab(host, clips: list, settings) -> tuple[float, int, dict]:  # noqa: ANN001
    import torch

    from model.emotion_llm.runtime import Predictor

    predictor = Predictor(host, LABELS, settings, model_version="bench", activate=lambda: True)
    started = time.perf_counter()
    results = [r for batch in predictor.predict_batches(clips) for _, r in batch]
    if host.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    failures = [r for r in results if isinstance(r, Exception)]
    if failures:
        raise SystemExit(f"{len(failures)} clips failed: {failures[0]}")
    return seconds, int(predictor.stats["new_tokens"]), predictor.stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", action="store_true", help="the Emotion-LLaMA target shapes, on CUDA")
    parser.add_argument("--clips", type=int)
    parser.add_argument("--batch", type=int)
    parser.add_argument("--new-tokens", type=int)
    parser.add_argument("--gqa", action="store_true", help="with --gpu: the Qwen2.5-7B (GQA) LM shape")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    parser.add_argument("--rows", default=",".join(ROWS),
                        help=f"which rows to run, of {','.join(ROWS)} (compile: static cache + compile)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prepare-workers", type=int, default=4, help="ClueLab's media preparation threads")
    parser.add_argument("--repeat", type=int, default=2, help="timed passes per row (the best counts)")
    args = parser.parse_args()
    target = SHAPES["gpu"]
    print("GPU target (what --gpu runs):")
    print(f"  LM: LLaMA-2-7B shape {target['lm']}, bfloat16")
    print(f"  vision: ViT-L/14 shape {target['vision']}, {target['frames']} frames per clip")
    print(f"  audio: Whisper-large encoder shape {target['audio']}")
    print(f"  prompt ~{target['prompt_tokens']} tokens, {target['new_tokens']} new tokens, batch {target['batch']}, "
          f"{target['clips']} clips, static cache + torch.compile (reduce-overhead)")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    if args.gpu and not torch.cuda.is_available():
        print("\n--gpu: no CUDA device here; nothing run.")
        return 1
    shape = SHAPES[("gqa" if args.gqa else "gpu") if args.gpu else "cpu"]
    device = torch.device("cuda" if args.gpu else "cpu")
    dtype = getattr(torch, shape["dtype"])
    torch.set_num_threads(args.threads)
    clips_n = args.clips or shape["clips"]
    batch = args.batch or shape["batch"]
    new_tokens = args.new_tokens or shape["new_tokens"]
    os.environ.update({"CLUELAB_EMOTION_LLM_BATCH_SIZE": str(batch), "CLUELAB_EMOTION_LLM_MAX_NEW_TOKENS": str(new_tokens),
                       "CLUELAB_EMOTION_LLM_FRAMES": str(shape["frames"]), "CLUELAB_EMOTION_LLM_DEVICE": device.type,
                       "CLUELAB_EMOTION_LLM_QUERY_TOKENS": "16", "CLUELAB_EMOTION_LLM_PROJECTOR": "attention",
                       "CLUELAB_EMOTION_LLM_PREPARE_WORKERS": str(args.prepare_workers)})
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from core.settings import Settings, get_settings
    from model.emotion_llm.composed import ComposedModel
    from model.emotion_llm.loading import go_offline

    go_offline()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        get_settings.cache_clear()
        settings = get_settings()
        host = ComposedModel(settings, device=device, dtype=dtype, parts=build_parts(shape, device, dtype, workdir))
        clips = make_clips(clips_n, shape["frames"], workdir)
        prompt = [len(host.prepare(c, LABELS, media=True).ids) for c in clips]
        print(f"\nrun: {device.type} ({torch.get_num_threads()} threads), {clips_n} clips, batch {batch}, "
              f"prompts {min(prompt)}-{max(prompt)} tokens (mean {sum(prompt) / len(prompt):.0f}, incl. media tokens), "
              f"up to {new_tokens} new tokens")

        # Media preparation alone (CPU: frames, image processor, audio features, prompt ids), one thread
        # against the pool ClueLab uses: at large GPU batches it, not decoding, bounds the rate.
        from concurrent.futures import ThreadPoolExecutor

        for workers in sorted({1, args.prepare_workers}):
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(lambda c: host.prepare(c, LABELS, media=True), clips))
            print(f"preparing media, {workers} thread(s): {clips_n / (time.perf_counter() - started):.1f} clips/s",
                  flush=True)

        # Every row first runs the whole set once (compiles, cache shapes, first calls), then --repeat timed
        # passes, and keeps its best. On a CPU the rows take turns pass by pass, so on a shared box every
        # row sees the same spells of load and the minimum is the least disturbed.
        wanted = {row for row in args.rows.split(",") if not (args.no_compile and row.endswith("compile"))}
        variants = [("dynamic", "dynamic cache", False, False), ("static", "static cache", True, False),
                    ("compile", "static cache + compile", True, True)]
        print(f"LM: {type(host.lm).__name__} {shape['lm']}", flush=True)
        runs = {}
        for key, label, static, compile_ in variants:
            if f"generate-{key}" not in wanted:
                continue
            runs[f"transformers generate, {label}"] = (
                "text only", lambda s=static, c=compile_: plain_generate(host, clips, batch=batch, new_tokens=new_tokens,
                                                                          static=s, compile_=c) + ({},))
        for key, label, static, compile_ in variants:
            if f"cluelab-{key}" not in wanted:
                continue
            os.environ["CLUELAB_EMOTION_LLM_STATIC_CACHE"] = "true" if static else "false"
            os.environ["CLUELAB_EMOTION_LLM_COMPILE"] = "true" if compile_ else "false"
            variant = Settings()
            runs[f"ClueLab predict, {label}"] = ("clues + distribution", lambda v=variant: cluelab(host, clips, v))
        best: dict[str, tuple] = {}
        failed: dict[str, str] = {}
        # On a GPU each row runs its passes back to back and then lets go of its KV cache, so every row has
        # the card's memory to itself (two 7B static caches at batch 128 plus a dynamic one do not fit).
        rounds = range(args.repeat + 1)
        schedule = ([(r, name) for name in runs for r in rounds] if device.type == "cuda"
                    else [(r, name) for r in rounds for name in runs])
        for round_, name in schedule:
            run = runs[name][1]
            if name in failed:
                continue
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            try:
                result = run()
            except Exception as error:  # noqa: BLE001 — a row that cannot run says why, the table goes on
                failed[name] = f"failed: {type(error).__name__}: {error}"[:80]
                print(f"  {name}: {failed[name]}", flush=True)
                if device.type == "cuda":
                    release(host)
                continue
            peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else 0.0
            extra = result[2]
            print(f"  round {round_} {name}: {result[0]:.2f} s ({clips_n / result[0]:.2f} clips/s), peak "
                  f"{peak:.1f} GiB" + (f", retried {extra['retried']:.0f}, decode compiles "
                                       f"{host.decode_state.compiles}, cache allocations "
                                       f"{host.decode_state.allocations}, static cache positions "
                                       f"{(host.decode_state.shape or (0, '-'))[1]}" if extra else ""), flush=True)
            if round_ and (name not in best or result[0] < best[name][0]):
                best[name] = result
            if device.type == "cuda" and round_ == args.repeat:
                release(host)
        rows = [(name, *(best[name][:2] if name in best else (None, 0)), failed.get(name, note))
                for name, (note, _) in runs.items()]
        stats = next((best[n][2] for n in best if n.startswith("ClueLab")), {"media_tokens": 0})
        best = min((r[1] for r in rows if r[1] and r[0].startswith("transformers")), default=None)

    # "per token" scales the ratio by new tokens made per clip, for rows whose answers came out shorter.
    print(f"\n{'path':44} {'seconds':>8} {'clips/s':>8} {'new tok/clip':>12} {'x best generate':>16} "
          f"{'per token':>10}  output")
    for name, secs, toks, note in rows:
        if secs is None:
            print(f"{name:44} {'-':>8} {'-':>8} {'-':>12} {'-':>16} {'-':>10}  {note}")
            continue
        rate = clips_n / secs
        ratio = (best / secs) if best else float("nan")
        per_token = ratio * (toks / clips_n) / new_tokens
        print(f"{name:44} {secs:8.2f} {rate:8.2f} {toks / clips_n:12.0f} {ratio:16.2f} {per_token:10.2f}  {note}")
    print(f"\nClueLab's new tokens include the JSON skeleton it feeds; media tokens per clip: "
          f"{stats['media_tokens'] / clips_n:.0f}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
