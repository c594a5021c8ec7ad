"""What `s2sa export-adapter` exports and where, planned from the folder alone (no model, no torch tensors):
`--checkpoint` best/last/N, the decoding settings it records, and the output folder's guard."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import FORMAT_1
from safetensors.numpy import save_file

from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.layout.export_folder import plan_export, quantized_info, resolve_export_source


def artifact(folder: Path) -> Path:
    """An adapter folder as s2sa writes one: s2sa.json and whole safetensors files."""
    folder.mkdir(parents=True)
    (folder / "s2sa.json").write_text(FORMAT_1.read_text())
    for name in ("adapter.safetensors", "non_adapter_weights.safetensors"):
        save_file({"w": np.zeros(4, dtype=np.float32)}, str(folder / name))
    return folder


@pytest.fixture
def run(tmp_path) -> Path:
    """A finished run: its final adapter, complete checkpoints 2 (the best) and 4, and checkpoint-6 cut short."""
    root = tmp_path / "run"
    artifact(root / "adapter")
    for step in (2, 4, 6):
        artifact(root / "checkpoints" / f"checkpoint-{step}" / "adapter")
    for step in (2, 4):
        (root / "checkpoints" / f"checkpoint-{step}" / "COMPLETE").write_text("ok\n")
    state = {"global_step": 4, "best_model_checkpoint": str(root / "checkpoints" / "checkpoint-2"), "best_global_step": 2}
    (root / "checkpoints" / "checkpoint-4" / "trainer_state.json").write_text(json.dumps(state))
    (root / "run_config.json").write_text(json.dumps({"data": {"data": str(tmp_path / "dialogs.jsonl")}}))
    (root / "run.json").write_text(json.dumps({"global_step": 4}))
    (tmp_path / "dialogs.jsonl").write_text("{}\n")
    return root


def test_the_default_is_the_final_adapter_and_the_card_says_which_weights_it_holds(run, tmp_path):
    plan = plan_export(run, tmp_path / "export", checkpoint=None, overwrite=False)
    assert plan.state["global_step"] == 4  # the newest complete checkpoint's trainer state
    assert (plan.source.directory, plan.source.step) == (run / "adapter", 2)
    assert plan.source.description == "the run's final `adapter/` (its best checkpoint, step 2)"
    assert plan.info.model.adapter_config == "seq_bn" and plan.info.generation.num_beams == 4
    no_best = resolve_export_source(run, None, {"global_step": 4})
    assert (no_best.step, no_best.description) == (4, "the run's final `adapter/` (after step 4)")  # from run.json


@pytest.mark.parametrize(
    ("checkpoint", "folder", "step"),
    [("best", "checkpoint-2", 2), ("last", "checkpoint-4", 4), ("4", "checkpoint-4", 4), ("02", "checkpoint-2", 2)],
)
def test_checkpoint_picks_a_complete_checkpoint(run, tmp_path, checkpoint, folder, step):
    plan = plan_export(run, tmp_path / "export", checkpoint=checkpoint, overwrite=False)
    assert (plan.source.directory, plan.source.step) == (run / "checkpoints" / folder / "adapter", step)
    assert f"`checkpoints/{folder}`" in plan.source.description


@pytest.mark.parametrize(
    ("checkpoint", "message"),
    [
        ("6", "checkpoint-6 is incomplete (interrupted while saving); complete checkpoints: checkpoint-2, checkpoint-4"),
        ("8", "checkpoint-8 does not exist; complete checkpoints: checkpoint-2, checkpoint-4"),
        ("-1", "--checkpoint '-1': expected best, last or a step number"),
    ],
)
def test_a_checkpoint_that_cannot_be_exported_is_named(run, tmp_path, checkpoint, message):
    with pytest.raises(S2SAError, match=re.escape(message)):
        plan_export(run, tmp_path / "export", checkpoint=checkpoint, overwrite=False)
    assert not (tmp_path / "export").exists()


def test_a_run_without_its_final_adapter_points_at_its_checkpoints(run, tmp_path):
    for name in ("s2sa.json", "adapter.safetensors", "non_adapter_weights.safetensors"):
        (run / "adapter" / name).unlink()
    with pytest.raises(S2SAError, match="has no final adapter/ .*pass --checkpoint last"):
        plan_export(run, tmp_path / "export", checkpoint=None, overwrite=False)
    assert plan_export(run, tmp_path / "export", checkpoint="last", overwrite=False).source.step == 4


def test_quantize_is_recorded_in_the_decoding_settings_but_not_for_a_merge(run):
    plan = plan_export(run, run.parent / "export", checkpoint=None, overwrite=False)
    assert quantized_info(plan.info, None, merge=False) is plan.info
    assert quantized_info(plan.info, "int8", merge=False).generation.quantize == "int8"
    assert plan.info.generation.quantize == "none"  # the run's settings are left as they were
    with pytest.raises(S2SAError, match="--quantize must be 'none' or 'int8', got 'int4'"):
        quantized_info(plan.info, "int4", merge=False)
    with pytest.raises(S2SAError, match="--quantize int8 is recorded .* a --merge export is a plain transformers model"):
        quantized_info(plan.info, "int8", merge=True)


def test_the_output_never_replaces_the_run_its_data_or_goes_inside_what_training_rewrites(run, tmp_path):
    for output, message in [
        (run, "would replace the run"),
        (tmp_path / "dialogs.jsonl", "is a file, not a folder"),
        (run / "checkpoints" / "export", "is inside the run's checkpoints/"),
        (run / "adapter" / "export", "is inside the run's adapter/"),
    ]:
        with pytest.raises(S2SAError, match=message):
            plan_export(run, output, checkpoint=None, overwrite=True)


def test_damaged_weights_are_refused_before_anything_is_written(run, tmp_path):
    weights = run / "checkpoints" / "checkpoint-4" / "adapter" / "non_adapter_weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:20])
    plan_export(run, tmp_path / "export", checkpoint="2", overwrite=False)  # the other checkpoints are whole
    with pytest.raises(S2SAError, match="non_adapter_weights.safetensors is damaged or truncated"):
        plan_export(run, tmp_path / "export", checkpoint="last", overwrite=False)
    assert not (tmp_path / "export").exists()
