"""The annotation domain, in wings: labelling, ingest, evaluation, agreement, formats, studies.

Beside the wings: accounts, datasets, permissions, jobs (the Job records),
text helpers and sentence embeddings. Nothing in this package imports
Streamlit, pages or components; all SQL goes through `db.queries`.
"""
