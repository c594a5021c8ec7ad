"""Summaries from a trained model: loading a run or export for inference, fast length-sorted decoding,
long documents in windows, readable surface text, and `s2sa summarize`.

May import: core, config, layout, data, model."""
