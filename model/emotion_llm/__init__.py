"""The emotion_llm backend: an emotion LLM over frames, audio, transcript and measured evidence.

Two ways to get a model, both from local folders only (nothing is fetched from a hub):
a multimodal checkpoint with its processor (LLaVA-class, `multimodal.py`), or the
Emotion-LLaMA / AffectGPT composition of frozen vision and audio encoders, trainable
projectors and a causal LM with LoRA adapters (`composed.py`). The emotion distribution is
scored from the LM's label-token probabilities in the prompt's own forward pass
(`engine.py`); retraining is LoRA (+ projector) SFT on consensus (`training.py`), inline or
under accelerate/torchrun (`launch.py`); predict jobs can be split into shards that several
workers take (`shards.py`).
"""
