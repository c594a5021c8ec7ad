"""`s2sa export-adapter`: write a planned export (adapter, tokenizer, decoding settings) or a merged model,
with its model card.

May import: every layer but training (and never the CLI)."""
