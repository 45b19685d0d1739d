"""The `openai` backend: pre-annotation through any OpenAI-compatible chat server (OpenAI, vLLM, SGLang)."""
