"""Evaluation: model-quality metrics, clue aspects of reasoning paragraphs, and the EMER LLM judge."""
