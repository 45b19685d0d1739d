"""Evaluation: model-quality metrics, the official emotion-wheel metric for open-vocabulary labels,
clue aspects of reasoning paragraphs, and the EMER LLM judge."""
