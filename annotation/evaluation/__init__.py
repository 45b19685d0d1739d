"""Evaluation: model-quality metrics, the emotion-wheel metric, clue quality and the LLM judge."""
