"""A run's checkpoint-N folders: their steps, oldest first, and which finished writing (COMPLETE), read
without torch."""

from __future__ import annotations


def test_checkpoint_prefix_is_the_trainers():
    """checkpoint_dirs names checkpoint-N folders without importing transformers; the Trainer must agree."""
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    from seq2seq_adapters.layout.checkpoint_folder import CHECKPOINT_PREFIX

    assert CHECKPOINT_PREFIX == PREFIX_CHECKPOINT_DIR


def test_checkpoints_in_step_order_and_only_the_complete_ones(tmp_path):
    """checkpoint-10 after checkpoint-9 (numbers, not text); a folder without COMPLETE was cut short."""
    from seq2seq_adapters.layout.checkpoint_folder import (
        checkpoint_folders,
        checkpoint_step,
        complete_checkpoints,
        last_complete_checkpoint,
    )

    checkpoints = tmp_path / "run" / "checkpoints"
    assert checkpoint_folders(checkpoints) == [] and last_complete_checkpoint(tmp_path / "run") is None
    for step in (9, 10, 11):
        (checkpoints / f"checkpoint-{step}").mkdir(parents=True)
    for step in (9, 10):
        (checkpoints / f"checkpoint-{step}" / "COMPLETE").write_text("ok\n")
    (checkpoints / "checkpoint-x").mkdir()
    (checkpoints / "notes").mkdir()
    assert [p.name for p in checkpoint_folders(checkpoints)] == ["checkpoint-9", "checkpoint-10", "checkpoint-11"]
    assert [p.name for p in complete_checkpoints(tmp_path / "run")] == ["checkpoint-9", "checkpoint-10"]
    assert last_complete_checkpoint(tmp_path / "run") == checkpoints / "checkpoint-10"
    assert [checkpoint_step(tmp_path / name) for name in ("checkpoint-12", "checkpoint-x", "check-3", "adapter")] == [12, None, None, None]
