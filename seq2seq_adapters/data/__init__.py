"""Summarization data: files, split folders, hub ids and the bundled ACLSum read as raw splits, columns
detected and rows normalised, a validation split carved, tokenization for training (cached).

May import: core, config."""
