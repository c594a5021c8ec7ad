"""Resumable checkpoints: every file a resume reads is read back first; a damaged newest checkpoint is passed
over for an older one."""

from __future__ import annotations

from pathlib import Path

import torch


def test_checkpoint_problem_reads_every_file_back(tmp_path):
    """What makes a complete checkpoint unusable for --resume: a missing, truncated or foreign file."""
    from safetensors.torch import save_file
    from transformers import TrainerState

    from seq2seq_adapters.training.checkpointing import checkpoint_problem, loadable_checkpoint

    def checkpoint(step: int) -> Path:
        folder = tmp_path / "run" / "checkpoints" / f"checkpoint-{step}"
        (folder / "adapter").mkdir(parents=True)
        TrainerState(global_step=step).save_to_json(str(folder / "trainer_state.json"))
        for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth"):
            torch.save({"state": torch.zeros(3)}, folder / name)
        (folder / "adapter" / "s2sa.json").write_text("{}")
        save_file({"w": torch.zeros(2)}, str(folder / "adapter" / "non_adapter_weights.safetensors"))
        (folder / "COMPLETE").write_text("ok\n")
        return folder

    older, newer = checkpoint(2), checkpoint(4)
    assert checkpoint_problem(newer) is None and loadable_checkpoint(tmp_path / "run") == (newer, [])
    (newer / "rng_state.pth").write_bytes((newer / "rng_state.pth").read_bytes()[:100])
    assert checkpoint_problem(newer).startswith("rng_state.pth is damaged: ")
    assert loadable_checkpoint(tmp_path / "run") == (older, [f"checkpoint-4 ({checkpoint_problem(newer)})"])
    (older / "optimizer.pt").unlink()
    assert checkpoint_problem(older) == "optimizer.pt is missing"  # the Trainer would silently start a fresh optimizer
    newer = checkpoint(6)
    TrainerState(global_step=5).save_to_json(str(newer / "trainer_state.json"))
    assert checkpoint_problem(newer) == "trainer_state.json is not the state of step 6"
    (newer / "adapter" / "s2sa.json").write_text("{")
    assert checkpoint_problem(newer).startswith("adapter/s2sa.json is damaged")
