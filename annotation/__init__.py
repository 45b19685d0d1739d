"""The annotation domain: ingest, queue, agreement, consensus, studies, metrics, formats.

Nothing in this package imports Streamlit.
"""
