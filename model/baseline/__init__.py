"""The offline CPU baseline: measured face, voice, speech, text and scene signals turned into clues."""
