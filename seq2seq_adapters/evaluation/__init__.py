"""Scores: ROUGE exactly as `evaluate` computes it, sentence splitting, scoring one split with its Lead-k
baseline, reports, `s2sa eval` and `eval --compare`, and training curves.

May import: core, config, layout, data, model, generation."""
