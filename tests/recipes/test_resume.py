"""Resuming in this process (`train(resume=...)`): the run ends with the weights of the run that went on
uninterrupted, whichever groups `--train` trains (through the CLI in subprocesses: tests/integration/test_resume.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tiny import tiny_run_config, train_tiny

from seq2seq_adapters.config.policy import TrainPolicy, parameter_group


def resume_config(tiny_bert: Path, data: Path, output_dir: Path, train: str):
    return tiny_run_config(
        tiny_bert, data, output_dir, model={"leave_out": [0, 1], "train": train},
        data={"max_source_length": 48, "max_target_length": 16, "max_eval_samples": 2},
        train={"max_steps": 4, "learning_rate": 3e-3, "save_steps": 2}, generation={"batch_size": 2},
    )


@pytest.mark.parametrize("train", ["adapter,head", "adapter,cross-attention"])
def test_resume_restores_exactly_the_trained_groups(tiny_bert, dialog_jsonl, tmp_path, train):
    """Resuming from checkpoint-2 ends with the weights of the run that went on from there."""
    full = train_tiny(resume_config(tiny_bert, dialog_jsonl, tmp_path / "full", train)).output_dir
    checkpoint = full / "checkpoints" / "checkpoint-2" / "adapter"
    policy = TrainPolicy.parse(train)
    stored = load_file(str(checkpoint / "non_adapter_weights.safetensors"))
    # the trained groups, plus the head: frozen or not, the tiny BERT has none, so it starts random and is kept
    assert {parameter_group(name, False) for name in stored} == (policy.groups - {"adapter"}) | {"head"}

    resumed = tmp_path / "resumed"
    shutil.copytree(full, resumed)
    shutil.rmtree(resumed / "checkpoints" / "checkpoint-4")
    shutil.rmtree(resumed / "adapter")
    (resumed / "run.json").unlink()
    config = resume_config(tiny_bert, dialog_jsonl, resumed, train)
    train_tiny(config, resume=resumed)
    for name in ("adapter.safetensors", "non_adapter_weights.safetensors"):
        ours, theirs = load_file(str(resumed / "adapter" / name)), load_file(str(full / "adapter" / name))
        assert ours.keys() == theirs.keys(), name
        assert all(torch.equal(ours[key], theirs[key]) for key in ours), name
    record = json.loads((resumed / "run.json").read_text())
    assert record["config"]["model"]["train"] == train
    assert {name for name, g in record["parameters"]["groups"].items() if g["trained"]} == policy.groups
