"""One benchmark pass in a Python process of its own, for scripts/bench_*.py.

The allocator setting of `s2sa`'s commands (seq2seq_adapters/core/allocator.py) holds for a whole process, and
one pass's heap must not warm the next one's, so each benchmark runs its script again with
`--only NAME --out FILE` for every pass and reads the JSON that pass wrote.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path


def in_fresh_process(script: str, argv: list[str], name: str) -> dict:
    """`python SCRIPT ARGV --only NAME --out FILE` in a new process; the JSON it wrote to FILE."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "pass.json"
        subprocess.run([sys.executable, script, *argv, "--only", name, "--out", str(out)], check=True)
        return json.loads(out.read_text())
