"""Feature extractors. Each takes file paths (video, WAV, frames) or arrays, so it is
testable without the database, and returns JSON-ready dicts that cache in ClipFeature."""
