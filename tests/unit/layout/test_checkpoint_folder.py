"""A run's checkpoint-N folders: their steps, oldest first, and which finished writing (COMPLETE), read
without torch."""

from __future__ import annotations


def test_checkpoint_prefix_is_the_trainers():
    """checkpoint_dirs names checkpoint-N folders without importing transformers; the Trainer must agree."""
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    from seq2seq_adapters.layout.checkpoint_folder import CHECKPOINT_PREFIX

    assert CHECKPOINT_PREFIX == PREFIX_CHECKPOINT_DIR

