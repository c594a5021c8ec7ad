"""`python -m seq2seq_adapters` is the `s2sa` command."""

from .cli import app

app(prog_name="s2sa")
