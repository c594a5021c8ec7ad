"""Progress without a terminal: a plain line every tenth of the items, with elapsed time and ETA."""

from __future__ import annotations

import io

from rich.console import Console

from seq2seq_adapters.core.progress import tracked


def test_without_a_terminal_progress_is_a_line_per_tenth():
    out = io.StringIO()
    with tracked(Console(file=out, width=200), "generating", 200) as advance:
        for _ in range(50):
            advance(4)
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 and lines[0].startswith("generating 20/200 (10%) · elapsed") and lines[-1].startswith("generating 200/200 (100%)")
