"""Shared test infrastructure: fixtures, the one CLI subprocess runner and environment, markers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for subprocesses: this tree's package (not an installed one), CPU only, one thread
    (two torch threads on two shared cores wait for each other), wide Rich output."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "COLUMNS": "200"}
    env.update(extra)
    return env


def run_python(args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python ARGS` in a fresh interpreter with `cli_env`, output captured as text."""
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env or cli_env(), cwd=cwd or ROOT, timeout=timeout
    )


def run_cli(args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """The real CLI, `python -m seq2seq_adapters ARGS`, in a subprocess."""
    return run_python(["-m", "seq2seq_adapters", *args], env=env, cwd=cwd, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str, code: int = 1) -> None:
    """The CLI's promise for bad input: exit `code`, no traceback, exactly one `error:` line, naming `needles`."""
    assert result.returncode == code, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr[-2000:]
    for needle in needles:
        assert needle in lines[0], lines[0]


def snapshot(path: Path) -> dict[str, bytes]:
    """Every file under `path` with its contents: compared before and after a command that must change nothing."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()} if path.exists() else {}


def report_content(path: Path) -> str:
    """A ROUGE report (or any file) without its generation timing (`throughput`), which no two runs share."""
    text = path.read_text()
    if path.name.startswith("rouge_") and path.suffix == ".json":
        report = json.loads(text)
        report.pop("throughput", None)
        return json.dumps(report, indent=2)
    return "\n".join(line for line in text.splitlines() if not line.startswith("- throughput: "))


def free_port() -> int:
    """A TCP port nothing listens on now (for torchrun's rendezvous; fixed ports collide between runs)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that reads ../shared/data says so with the `real_data` marker."""
    unmarked = [item.nodeid for item in items if "shared_data_dir" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("real_data")]
    if unmarked:
        raise pytest.UsageError(f"tests using shared_data_dir need @pytest.mark.real_data: {', '.join(unmarked)}")


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """One torch thread in the test process: tiny models gain nothing from intra-op threads, and on a
    shared, oversubscribed 2-core machine two OpenMP threads wait for each other."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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


STORED_PAIR = Path(__file__).resolve().parent / "data" / "pre-subpackages"
"""A run and its export made by the flat package (ce8d90a), with the summaries that code wrote
(expected.json): today's code must load, evaluate and export them to the same summaries."""
STORED_PAIR_EXPECTED = json.loads((STORED_PAIR / "expected.json").read_text())
STORED_PAIR_BASE = "/tmp/pairwork/tiny-bert"
"""Where the base checkpoint lay when the pair was made; `stored_pair` points it at the same tiny BERT (seed 0)."""


@pytest.fixture
def stored_pair(tiny_bert, tmp_path) -> Path:
    """The stored pair in a temporary folder, its recorded base checkpoint and data where this machine has them."""
    import shutil

    copy = tmp_path / "stored"
    shutil.copytree(STORED_PAIR, copy)
    for name in ("run/run_config.json", "run/adapter/s2sa.json", "export/s2sa.json"):
        path = copy / name
        path.write_text(path.read_text().replace(STORED_PAIR_BASE, str(tiny_bert)).replace("/tmp/pair/", f"{copy}/"))
    return copy
