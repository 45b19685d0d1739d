"""ClueLab: annotation and review of explainable multimodal emotion recognition."""

__version__ = "0.1.0"
