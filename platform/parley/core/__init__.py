"""Cross-cutting pieces: clock, errors, ids, the event vocabulary, publish-on-commit."""
