"""Labelling: the queue an annotator works, annotating a clip, consensus proposals and a lead's adjudication."""
