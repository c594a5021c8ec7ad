"""`s2sa eval` / `export-adapter` on weights that do not fit or are damaged: one line, exit 1, nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import assert_one_line_error, run_cli
from tiny import make_tiny_bert, train_tiny_run

pytestmark = pytest.mark.integration



@pytest.fixture(scope="module")
def run_dir(tiny_bert, dialog_jsonl, tmp_path_factory) -> Path:
    return train_tiny_run(tiny_bert, dialog_jsonl, tmp_path_factory.mktemp("artifact-errors") / "run")


def damaged_copy(run_dir: Path, target: Path, file_name: str) -> Path:
    """A copy of the run whose adapter/<file_name> is cut in half."""
    shutil.copytree(run_dir, target)
    weights = target / "adapter" / file_name
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return target


def test_eval_with_a_base_model_the_adapter_does_not_fit(run_dir, tmp_path):
    wider = make_tiny_bert(tmp_path / "wider", hidden=48)
    out = tmp_path / "eval-out"
    result = run_cli(["eval", str(run_dir), "--split", "validation", "--encoder", str(wider), "--decoder", str(wider), "--output-dir", str(out)])
    assert_one_line_error(result, "does not fit", "size mismatch")
    assert not out.exists()


@pytest.mark.parametrize("file_name", ["adapter.safetensors", "non_adapter_weights.safetensors"])
def test_eval_on_truncated_weights(run_dir, tmp_path, file_name):
    damaged = damaged_copy(run_dir, tmp_path / "damaged", file_name)
    out = tmp_path / "eval-out"
    result = run_cli(["eval", str(damaged), "--split", "validation", "--output-dir", str(out)])
    assert_one_line_error(result, f"{file_name} is damaged or truncated")  # before the model loads
    assert not out.exists()


def test_export_of_truncated_weights_writes_nothing(run_dir, tmp_path):
    damaged = damaged_copy(run_dir, tmp_path / "damaged", "non_adapter_weights.safetensors")
    out = tmp_path / "export-out"
    result = run_cli(["export-adapter", str(damaged), "--output", str(out)])
    assert_one_line_error(result, "non_adapter_weights.safetensors is damaged or truncated")
    assert not out.exists()
