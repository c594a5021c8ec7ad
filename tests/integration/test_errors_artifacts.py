"""`s2sa eval` / `export-adapter` on weights that do not fit or are damaged: one line, exit 1, nothing written;
the check of the weight files imports no torch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import assert_one_line_error, run_cli, run_python
from tiny import WEIGHT_DAMAGES, damage_weights, make_tiny_bert, tiny_run_config, train_tiny


@pytest.fixture(scope="module")
def run_dir(tiny_bert, dialog_jsonl, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("artifact-errors") / "run"
    return train_tiny(tiny_run_config(tiny_bert, dialog_jsonl, out)).output_dir


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


@pytest.mark.parametrize("damage", WEIGHT_DAMAGES)
def test_damaged_weight_files_are_found_without_torch(tmp_path, damage):
    """verify_weight_files (the check before a model loads) imports no torch, whichever the damage."""
    import torch
    from safetensors.torch import save_file

    path = tmp_path / "adapter.safetensors"
    save_file({"w": torch.ones(64, 64)}, str(path))
    damage_weights(path, damage)
    code = "import sys; from seq2seq_adapters.layout.artifact_folder import verify_weight_files as v\ntry: v(sys.argv[1])\nexcept Exception: pass\nassert 'torch' not in sys.modules"
    assert run_python(["-c", code, str(tmp_path)]).returncode == 0
