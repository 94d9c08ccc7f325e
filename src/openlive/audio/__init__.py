"""Audio: PCM and mime parsing, streaming resampling and bounded sample buffers."""
