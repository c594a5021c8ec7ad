"""`s2sa train`: the recipe (setup, fit, finalize) and the rules of `--resume`, the Trainer and its callbacks,
the transformers privates it relies on (in one module), checkpoints, the loss and its running total across a
resume, non-finite guards, signals, the time budget, the length-grouped sampler and validation ROUGE.

May import: every layer but export (and never the CLI)."""
