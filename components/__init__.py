"""Reusable Streamlit widgets."""
