"""Ingest: importing manifests and folders, uploads, subtitles, media processing, the demo dataset."""
