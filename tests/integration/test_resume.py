"""Interruption, resume and determinism of `s2sa train`, through the real CLI in subprocesses (CPU).

- Two uninterrupted runs with the same seed end with identical weights and identical reports.
- SIGINT mid-run writes a resumable checkpoint and exits 130 with the resume command; `--resume` then
  ends with exactly the weights, reports, logged losses (metrics.jsonl) and train_loss (run.json) of the
  uninterrupted run (dropout RNG and the length-grouped batch order resume identically, across epoch
  boundaries; losses are logged every 3 steps, so a resume starts between two logs).
- SIGKILL at several moments of checkpoint writing (and SIGTERM, and a double SIGINT) always leaves
  a complete checkpoint to resume from, and the resumed run still matches the uninterrupted one.
"""

from __future__ import annotations

import json
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from conftest import finish, report_content, run_slowed, start_slowed, wait_for
from safetensors.torch import load_file
from tiny import write_jsonl

MAX_STEPS = 14
LOGGING_STEPS = 3  # checkpoints fall between logs: the loss summed since the last log must survive the resume
TRAIN_ROWS = 16  # batch 4: 4 steps per epoch, so the runs cross epoch boundaries
WEIGHT_FILES = ("adapter/adapter.safetensors", "adapter/non_adapter_weights.safetensors")
REPORT_FILES = ("rouge_validation.json", "rouge_validation.md", "predictions_validation.jsonl")

def train_args(data: Path, tiny_bert: Path, output_dir: Path, save_steps: int = 5) -> list[str]:
    return [
        "train", "--encoder", str(tiny_bert), "--decoder", str(tiny_bert), "--data", str(data),
        "--output-dir", str(output_dir), "--max-train-samples", str(TRAIN_ROWS), "--max-eval-samples", "3",
        "--batch-size", "4", "--max-steps", str(MAX_STEPS), "--learning-rate", "3e-3", "--seed", "7",
        "--logging-steps", str(LOGGING_STEPS), "--save-steps", str(save_steps), "--save-total-limit", "2",
        "--max-source-length", "48", "--max-target-length", "16", "--num-beams", "1", "--max-new-tokens", "8", "--min-new-tokens", "1",
    ]  # fmt: skip


def resume_args(run_dir: Path) -> list[str]:
    return ["train", "--resume", str(run_dir)]


def logged_step(run_dir: Path) -> int:
    """The highest step in metrics.jsonl so far (0 before the first log line)."""
    path = run_dir / "metrics.jsonl"
    steps = [0]
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                steps.append(json.loads(line).get("step", 0))
            except ValueError:
                pass
    return max(steps)


def checkpoints(run_dir: Path) -> list[Path]:
    folder = run_dir / "checkpoints"
    found = [p for p in folder.iterdir() if p.name.startswith("checkpoint-")] if folder.is_dir() else []
    return sorted(found, key=lambda p: int(p.name.rsplit("-", 1)[1]))


def complete(run_dir: Path) -> list[Path]:
    return [p for p in checkpoints(run_dir) if (p / "COMPLETE").is_file()]


def step_of(folder: Path) -> int:
    return int(folder.name.rsplit("-", 1)[1])


def assert_loadable(checkpoint: Path) -> None:
    """Everything `--resume` reads from a checkpoint is there and parses."""
    for name in ("adapter/adapter.safetensors", "adapter/non_adapter_weights.safetensors"):
        assert load_file(str(checkpoint / name)), name
    json.loads((checkpoint / "adapter" / "s2sa.json").read_text())
    json.loads((checkpoint / "adapter" / "adapter_config.json").read_text())
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    assert state["global_step"] == step_of(checkpoint)
    from transformers.trainer import safe_globals  # the numpy types the Trainer's RNG state holds

    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth"):
        with safe_globals():
            torch.load(checkpoint / name, weights_only=True)


def assert_same_run(run_dir: Path, reference: Path) -> None:
    """Identical adapter and non-adapter tensors, ROUGE reports and predictions, logged losses and train_loss."""
    for name in WEIGHT_FILES:
        ours, theirs = load_file(str(run_dir / name)), load_file(str(reference / name))
        assert ours.keys() == theirs.keys(), name
        different = [key for key in ours if not torch.equal(ours[key], theirs[key])]
        assert not different, f"{name}: {len(different)} tensors differ, e.g. {different[:3]}"
    for name in REPORT_FILES:
        assert report_content(run_dir / name) == report_content(reference / name), name
    assert step_losses(run_dir) == step_losses(reference)
    assert len(step_losses(reference)) == MAX_STEPS // LOGGING_STEPS
    assert final_line(run_dir)["train_loss"] == final_line(reference)["train_loss"]
    record, expected = json.loads((run_dir / "run.json").read_text()), json.loads((reference / "run.json").read_text())
    assert record["global_step"] == MAX_STEPS
    assert record["train_loss"] == expected["train_loss"] == final_line(reference)["train_loss"]


def step_losses(run_dir: Path) -> list[tuple]:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"], r["grad_norm"], r["learning_rate"]) for r in records if "loss" in r]


def final_line(run_dir: Path) -> dict:
    """The summary the Trainer logs at the end of training (train_loss, runtime), the last metrics.jsonl line."""
    return json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Dialogues of varied lengths (so length grouping matters), 16 used for training."""
    rows = [
        {
            "id": f"r{i}",
            "dialogue": " ".join(f"#Person{k % 2 + 1}#: we need {i + k} chairs for room {k}." for k in range(1 + i % 5)),
            "summary": f"They need {i} chairs.",
        }
        for i in range(24)
    ]
    return write_jsonl(tmp_path_factory.mktemp("resume-data") / "dialogs.jsonl", rows)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, data, tiny_bert) -> tuple[Path, Path]:
    """Two uninterrupted runs with the same seed and settings, run side by side."""
    root = tmp_path_factory.mktemp("uninterrupted")
    dirs = (root / "a", root / "b")
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda d: run_slowed(train_args(data, tiny_bert, d)), dirs))
    for returncode, stderr in results:
        assert returncode == 0, stderr
    return dirs


def test_same_seed_gives_identical_weights_and_reports(uninterrupted):
    first, second = uninterrupted
    assert_same_run(second, first)
    weights = {p.name for p in first.rglob("*") if p.suffix in {".safetensors", ".bin", ".pt", ".pth", ".ckpt"} and "adapter" in p.parts}
    assert weights == {"adapter.safetensors", "non_adapter_weights.safetensors"}  # weights only as safetensors
    assert (first / "adapter" / "s2sa.json").read_text() == (second / "adapter" / "s2sa.json").read_text()


def test_sigint_saves_checkpoint_and_resume_matches_uninterrupted(tmp_path, data, tiny_bert, uninterrupted):
    run_dir = tmp_path / "run"
    process = start_slowed(train_args(data, tiny_bert, run_dir), step_delay=0.1)
    wait_for(lambda: logged_step(run_dir) >= 6, process, "step 6 was logged")  # in the second epoch
    process.send_signal(signal.SIGINT)
    returncode, stderr = finish(process)
    assert returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert f"s2sa train --resume {run_dir}" in stderr, stderr
    saved = complete(run_dir)
    assert saved, stderr
    stopped_at = step_of(saved[-1])
    assert 6 <= stopped_at < MAX_STEPS and logged_step(run_dir) <= stopped_at, (saved, logged_step(run_dir))
    assert_loadable(saved[-1])
    assert not (run_dir / "adapter").exists() and not (run_dir / "run.json").exists()

    returncode, stderr = run_slowed(resume_args(run_dir))
    assert returncode == 0, stderr
    assert_same_run(run_dir, uninterrupted[0])


def test_kills_and_signals_at_any_moment_leave_a_resumable_run(tmp_path, data, tiny_bert, uninterrupted):
    """A checkpoint every step, each file write slowed down; interrupt the run five ways, then finish it."""
    run_dir = tmp_path / "run"
    delays = {"step_delay": 0.05, "write_delay": 0.08}
    last = 0

    def after_interruption(returncode: int, stderr: str, expected: int, mid_write: bool = False) -> None:
        nonlocal last
        assert returncode == expected, stderr
        assert "Traceback" not in stderr, stderr
        done = complete(run_dir)
        assert done, "no complete checkpoint left"
        if mid_write:  # the kill did land while a newer checkpoint was half-written
            assert [p for p in checkpoints(run_dir) if step_of(p) > step_of(done[-1])], checkpoints(run_dir)
        assert step_of(done[-1]) >= last
        assert_loadable(done[-1])
        last = step_of(done[-1])

    def newer_folder(adapter_written: bool = False):
        def check() -> bool:
            newer = [p for p in checkpoints(run_dir) if step_of(p) > last and not (p / "COMPLETE").exists()]
            return any((p / "adapter" / "s2sa.json").is_file() or not adapter_written for p in newer)

        return check

    # 1. SIGKILL just as a new checkpoint folder appears (its adapter is being staged)
    process = start_slowed(train_args(data, tiny_bert, run_dir, save_steps=1), **delays)
    wait_for(lambda: bool(complete(run_dir)), process, "the first complete checkpoint")
    last = step_of(complete(run_dir)[-1])
    wait_for(newer_folder(), process, "a new checkpoint folder")
    process.kill()
    after_interruption(*finish(process), expected=-signal.SIGKILL, mid_write=True)

    # 2. SIGKILL in the middle of a checkpoint: adapter written, optimizer/scheduler/RNG files on their way
    process = start_slowed(resume_args(run_dir), **delays)
    wait_for(newer_folder(adapter_written=True), process, "a half-written checkpoint")
    process.kill()
    after_interruption(*finish(process), expected=-signal.SIGKILL, mid_write=True)

    # 3. SIGKILL right after a new checkpoint is marked complete, while older ones are being rotated out
    process = start_slowed(resume_args(run_dir), **delays)
    previous = last
    wait_for(lambda: any(step_of(p) > previous for p in complete(run_dir)), process, "a new complete checkpoint")
    process.kill()
    after_interruption(*finish(process), expected=-signal.SIGKILL)

    # 4. SIGTERM: finish the step, save, exit 130 with the resume command
    process = start_slowed(resume_args(run_dir), **delays)
    previous = last
    wait_for(lambda: logged_step(run_dir) > previous, process, "a new step")
    process.send_signal(signal.SIGTERM)
    returncode, stderr = finish(process)
    after_interruption(returncode, stderr, expected=130)
    assert f"s2sa train --resume {run_dir}" in stderr and "SIGTERM" in stderr, stderr

    # 5. Two SIGINTs: the second stops at once (no new checkpoint needed), still exit 130, still resumable
    process = start_slowed(resume_args(run_dir), **delays)
    previous = last
    wait_for(lambda: logged_step(run_dir) > previous, process, "a new step")
    process.send_signal(signal.SIGINT)
    time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    returncode, stderr = finish(process)
    after_interruption(returncode, stderr, expected=130)
    assert "stopped at once" in stderr and f"s2sa train --resume {run_dir}" in stderr, stderr

    assert last < MAX_STEPS, "the interruptions came too late to test resuming"
    returncode, stderr = run_slowed(resume_args(run_dir))
    assert returncode == 0, stderr
    assert len(complete(run_dir)) == 2 and not [p for p in checkpoints(run_dir) if not (p / "COMPLETE").exists()]
    assert_same_run(run_dir, uninterrupted[0])
