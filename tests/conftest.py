"""Shared pytest fixtures."""

import os
import sys
from pathlib import Path

import pytest


sys.path.insert(0, str(Path(__file__).parent))
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """`../shared/data` (real DialogSum/SciTLDR); skip when absent, but fail when CI is set."""
    if not SHARED_DATA.is_dir():
        message = f"shared data not found at {SHARED_DATA}"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{message} (required when CI is set)")
        pytest.skip(message)
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A 4-layer, 32-wide random BERT checkpoint with the MiniLM vocab, saved once per session."""
    from tiny import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def dialog_jsonl(tmp_path_factory) -> Path:
    """64 short real-looking dialogues with summaries (no shared data needed)."""
    from tiny import write_jsonl

    rows = [
        {
            "id": f"d{i}",
            "dialogue": f"#Person1#: Hi, I would like to book a table for {i % 5 + 2} people tonight.\n"
            f"#Person2#: Sure, at what time? We have free tables at {i % 4 + 6} pm.\n"
            "#Person1#: That works, thank you very much.",
            "summary": f"Person1 books a table for {i % 5 + 2} people at {i % 4 + 6} pm.",
        }
        for i in range(64)
    ]
    return write_jsonl(tmp_path_factory.mktemp("data") / "dialogs.jsonl", rows)
