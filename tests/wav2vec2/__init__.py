"""Tests of src/wav2vec2/."""
