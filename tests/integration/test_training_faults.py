"""Faults inside a training run, through the real CLI: a NaN/inf loss, gradient or weight (`--on-nonfinite`),
a damaged newest checkpoint on `--resume`, and a full disk while saving.

Each failing case checks the exit code, exactly one `error:` line, no traceback, that nothing is reported as
done, and that the checkpoints saved before the fault are left complete and unchanged.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import assert_one_line_error, report_content, run_python
from safetensors.torch import load_file
from tiny import write_jsonl

# Runs the CLI like `python -m seq2seq_adapters`, with the training loss of one step made NaN (S2SA_TEST_NAN_STEP).
NAN_LAUNCHER = """
import os, runpy
from seq2seq_adapters.training.trainer import SummarizationTrainer
nan_step = int(os.environ["S2SA_TEST_NAN_STEP"])
original = SummarizationTrainer.compute_loss
def compute_loss(self, model, inputs, *args, **kwargs):
    loss = original(self, model, inputs, *args, **kwargs)
    return loss * float("nan") if model.training and self.state.global_step + 1 == nan_step else loss
SummarizationTrainer.compute_loss = compute_loss
runpy.run_module("seq2seq_adapters", run_name="__main__", alter_sys=True)
"""


# Runs the CLI with a full disk for every torch/safetensors file whose path holds S2SA_TEST_ENOSPC: a few
# bytes are written, then the write fails as it does on a full file system.
ENOSPC_LAUNCHER = """
import errno, os, runpy
import safetensors.torch, torch
where = os.environ["S2SA_TEST_ENOSPC"]
def full_disk(function):
    def wrapper(obj, path, *args, **kwargs):
        if where in str(path):
            with open(path, "wb") as f:
                f.write(b"PK")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return function(obj, path, *args, **kwargs)
    return wrapper
torch.save = full_disk(torch.save)
safetensors.torch.save_file = full_disk(safetensors.torch.save_file)
runpy.run_module("seq2seq_adapters", run_name="__main__", alter_sys=True)
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    rows = [{"id": f"r{i}", "dialogue": f"#Person1#: we need {i} chairs for room {i % 3}.", "summary": f"They need {i} chairs."} for i in range(12)]
    return write_jsonl(tmp_path_factory.mktemp("faults-data") / "dialogs.jsonl", rows)


def train_args(data: Path, tiny_bert: Path, output_dir: Path, *extra: str) -> list[str]:
    return [
        "train", "--encoder", str(tiny_bert), "--decoder", str(tiny_bert), "--data", str(data), "--output-dir", str(output_dir),
        "--max-train-samples", "8", "--max-eval-samples", "2", "--batch-size", "4", "--max-steps", "4", "--save-steps", "1",
        "--logging-steps", "1", "--max-source-length", "32", "--max-target-length", "8", "--num-beams", "1", "--max-new-tokens", "4", "--min-new-tokens", "1",
        *extra,
    ]  # fmt: skip


def cli(args: list[str], launcher: str | None = None, **env: str):
    from conftest import cli_env

    command = ["-c", launcher, *args] if launcher else ["-m", "seq2seq_adapters", *args]
    return run_python(command, env=cli_env(**env))


def assert_one_error(result, *expected: str) -> str:
    """Exit 1, exactly one `error:` line holding every `expected` text, no traceback, nothing reported done."""
    stderr = result.stderr
    assert result.returncode == 1, stderr
    assert "Traceback" not in stderr and "done:" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


def complete_steps(run_dir: Path) -> list[int]:
    folders = (run_dir / "checkpoints").glob("checkpoint-*")
    return sorted(int(p.name.rsplit("-", 1)[1]) for p in folders if (p / "COMPLETE").is_file())


def assert_not_done(run_dir: Path) -> None:
    assert not (run_dir / "adapter").exists() and not (run_dir / "run.json").exists()


def test_infinite_learning_rate_is_an_error_not_done(data, tiny_bert, tmp_path):
    """Defect 1: every weight became NaN and the run still ended with `done:`."""
    run_dir = tmp_path / "run"
    assert_one_error(cli(train_args(data, tiny_bert, run_dir, "--learning-rate", "inf", "--max-steps", "2")))
    if run_dir.exists():
        assert_not_done(run_dir)
        assert complete_steps(run_dir) == []  # the NaN weights of step 1 were never saved


def test_nonfinite_loss_stops_at_its_step_and_keeps_the_checkpoints(data, tiny_bert, tmp_path):
    run_dir = tmp_path / "run"
    result = cli(train_args(data, tiny_bert, run_dir), NAN_LAUNCHER, S2SA_TEST_NAN_STEP="3")
    error = assert_one_error(result, "non-finite loss at step 3", "before it reached the weights", "checkpoint-2", "--on-nonfinite skip-step")
    assert str(run_dir) in error
    assert_not_done(run_dir)
    assert complete_steps(run_dir) == [1, 2] and not (run_dir / "checkpoints" / "checkpoint-3").exists()
    for name in ("adapter.safetensors", "non_adapter_weights.safetensors"):
        weights = load_file(str(run_dir / "checkpoints" / "checkpoint-2" / "adapter" / name))
        assert all(torch.isfinite(t).all() for t in weights.values())
    assert [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()] == [1, 2]


def test_skip_step_skips_the_nonfinite_update_and_finishes(data, tiny_bert, tmp_path):
    run_dir = tmp_path / "run"
    result = cli(train_args(data, tiny_bert, run_dir, "--on-nonfinite", "skip-step"), NAN_LAUNCHER, S2SA_TEST_NAN_STEP="3")
    assert result.returncode == 0, result.stderr
    assert "warning: non-finite loss at step 3: its update skipped (--on-nonfinite skip-step)" in result.stderr
    assert "error:" not in result.stderr and "Traceback" not in result.stderr
    record = json.loads((run_dir / "run.json").read_text())
    assert record["global_step"] == 4 and math.isfinite(record["train_loss"])
    weights = load_file(str(run_dir / "adapter" / "adapter.safetensors"))
    assert all(torch.isfinite(t).all() for t in weights.values())


def finished_copy(run_dir: Path, copy: Path) -> Path:
    """`run_dir` as it was before its final adapter and reports were written (its checkpoints, run config, metrics)."""
    import shutil

    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("adapter", "run.json", "rouge_*", "predictions_*"))
    for folder in (copy / "checkpoints").iterdir():  # the ignore above also dropped the checkpoints' adapters
        shutil.copytree(run_dir / "checkpoints" / folder.name / "adapter", folder / "adapter")
    return copy


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def uninterrupted(data, tiny_bert, tmp_path_factory) -> Path:
    """A finished run with checkpoints 2 and 4."""
    run_dir = tmp_path_factory.mktemp("faults") / "run"
    result = cli(train_args(data, tiny_bert, run_dir, "--save-steps", "2"))
    assert result.returncode == 0, result.stderr
    return run_dir


def losses(run_dir: Path) -> list[tuple]:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"], r["grad_norm"]) for r in records if "loss" in r]


def test_resume_passes_over_a_damaged_newest_checkpoint(uninterrupted, tmp_path):
    """Defect 3: a truncated optimizer.pt in the newest checkpoint gave a traceback, after metrics.jsonl was cut."""
    run_dir = finished_copy(uninterrupted, tmp_path / "run")
    (run_dir / "checkpoints" / "checkpoint-4" / "optimizer.pt").write_bytes(b"\0" * 1000)
    result = cli(["train", "--resume", str(run_dir)])
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "error:" not in result.stderr
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "checkpoint-4 (optimizer.pt is damaged" in warning[0] and "resuming from checkpoint-2" in warning[0]
    for name in ("adapter/adapter.safetensors", "adapter/non_adapter_weights.safetensors"):
        ours, theirs = load_file(str(run_dir / name)), load_file(str(uninterrupted / name))
        assert all(torch.equal(ours[k], theirs[k]) for k in theirs), name
    assert losses(run_dir) == losses(uninterrupted)
    assert complete_steps(run_dir) == [2, 4]


def test_resume_with_every_checkpoint_damaged_fails_with_one_line_and_touches_nothing(uninterrupted, tmp_path):
    run_dir = finished_copy(uninterrupted, tmp_path / "run")
    (run_dir / "checkpoints" / "checkpoint-4" / "optimizer.pt").write_bytes(b"\0" * 1000)
    (run_dir / "checkpoints" / "checkpoint-2" / "adapter" / "non_adapter_weights.safetensors").write_bytes(b"\0" * 10)
    before = files(run_dir)
    assert_one_error(
        cli(["train", "--resume", str(run_dir)]),
        "no checkpoint can be loaded", "checkpoint-4 (optimizer.pt is damaged", "checkpoint-2 (adapter/non_adapter_weights.safetensors is damaged",
        "--overwrite",
    )
    assert files(run_dir) == before


def test_resume_after_the_last_step_writes_the_adapter_and_report_without_training_further(uninterrupted, tmp_path):
    """A run stopped while writing its final adapter or report: resuming from the last step's checkpoint used to
    train one step past --max-steps and record the loss of that step alone as train_loss."""
    run_dir = finished_copy(uninterrupted, tmp_path / "run")
    metrics = (run_dir / "metrics.jsonl").read_text()
    result = cli(["train", "--resume", str(run_dir)])
    assert result.returncode == 0, result.stderr
    record, expected = json.loads((run_dir / "run.json").read_text()), json.loads((uninterrupted / "run.json").read_text())
    assert record["global_step"] == expected["global_step"] == 4 and record["train_loss"] == expected["train_loss"]
    assert record["train_samples_per_s"] is None  # this session trained nothing
    assert (run_dir / "metrics.jsonl").read_text() == metrics and complete_steps(run_dir) == [2, 4]
    for name in ("adapter/adapter.safetensors", "adapter/non_adapter_weights.safetensors"):
        assert (run_dir / name).read_bytes() == (uninterrupted / name).read_bytes(), name
    assert report_content(run_dir / "rouge_validation.json") == report_content(uninterrupted / "rouge_validation.json")


def assert_same_as(run_dir: Path, reference: Path) -> None:
    for name in ("adapter/adapter.safetensors", "adapter/non_adapter_weights.safetensors"):
        assert (run_dir / name).read_bytes() == (reference / name).read_bytes(), name
    assert report_content(run_dir / "rouge_validation.json") == report_content(reference / "rouge_validation.json")
    assert losses(run_dir) == losses(reference)
    assert json.loads((run_dir / "run.json").read_text())["train_loss"] == json.loads((reference / "run.json").read_text())["train_loss"]


def test_full_disk_while_saving_a_checkpoint_removes_it_and_keeps_the_last_complete_one(data, tiny_bert, uninterrupted, tmp_path):
    """Defect 10: tracebacks, and the half-written checkpoint left taking space."""
    run_dir = tmp_path / "run"
    result = cli(train_args(data, tiny_bert, run_dir, "--save-steps", "2"), ENOSPC_LAUNCHER, S2SA_TEST_ENOSPC="checkpoint-4/optimizer.pt")
    assert_one_error(
        result,
        f"no space left on device while writing {run_dir / 'checkpoints' / 'checkpoint-4'}; the partial checkpoint was removed",
        f"the last complete checkpoint is {run_dir / 'checkpoints' / 'checkpoint-2'}", f"s2sa train --resume {run_dir}",
    )
    assert_not_done(run_dir)
    assert complete_steps(run_dir) == [2] and not (run_dir / "checkpoints" / "checkpoint-4").exists()
    result = cli(["train", "--resume", str(run_dir)])
    assert result.returncode == 0, result.stderr
    assert_same_as(run_dir, uninterrupted)


def test_full_disk_while_saving_the_final_adapter_names_it_and_resume_finishes_the_run(data, tiny_bert, uninterrupted, tmp_path):
    run_dir = tmp_path / "run"
    result = cli(train_args(data, tiny_bert, run_dir, "--save-steps", "2"), ENOSPC_LAUNCHER, S2SA_TEST_ENOSPC=f"{run_dir}/.adapter.")
    assert_one_error(
        result, f"no space left on device while writing {run_dir / 'adapter'};", f"the last complete checkpoint is {run_dir / 'checkpoints' / 'checkpoint-4'}"
    )
    assert_not_done(run_dir)
    assert complete_steps(run_dir) == [2, 4] and not [p for p in run_dir.iterdir() if p.name.startswith(".adapter")]
    result = cli(["train", "--resume", str(run_dir)])
    assert result.returncode == 0, result.stderr
    assert_same_as(run_dir, uninterrupted)


FULL_COPY_LAUNCHER = """
import errno, os, runpy, shutil
def full_disk(source, destination, *args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(source))  # named as the copy names it: the source
shutil.copyfile = full_disk
runpy.run_module("seq2seq_adapters", run_name="__main__", alter_sys=True)
"""


def test_a_full_disk_during_export_names_the_destination_and_replaces_nothing(tiny_run, tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / ".s2sa").write_text("written by s2sa\n")
    (export / "old.txt").write_text("the previous export")
    result = run_python(["-c", FULL_COPY_LAUNCHER, "export-adapter", str(tiny_run.output_dir), "--output", str(export), "--overwrite"])
    assert_one_line_error(result, f"no space left on device while writing {export}; the export was not written, and nothing at --output was replaced")
    assert (export / "old.txt").read_text() == "the previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]  # no staging folder left behind
