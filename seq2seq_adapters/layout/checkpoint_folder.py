"""The checkpoint folders of a run, by name and completeness, read without torch.

`export-adapter` picks a checkpoint and `--resume` finds one before torch loads; checkpoints.py writes,
reads back and rotates them.
"""

from __future__ import annotations

from pathlib import Path

from seq2seq_adapters.layout.run_folder import RunDir

CHECKPOINT_PREFIX = "checkpoint"
"""`checkpoint-N`: transformers' PREFIX_CHECKPOINT_DIR (importing it would import torch)."""
CHECKPOINT_COMPLETE = "COMPLETE"
"""Marker written last into a checkpoint folder: a folder without it was interrupted mid-write."""
CHECKPOINT_RECORD = "s2sa_training.json"
"""In each checkpoint (since 2026-12-07): the settings that shape the optimizer's state and the data fingerprint it
was trained with, which `--resume` compares with the run's settings and data (older checkpoints have none)."""


def checkpoint_step(folder: Path) -> int | None:
    """The step of a `checkpoint-N` folder, or None for any other name."""
    prefix, _, number = folder.name.rpartition("-")
    return int(number) if prefix == CHECKPOINT_PREFIX and number.isdigit() else None


def checkpoint_folders(checkpoints_dir: Path) -> list[Path]:
    """`checkpoint-N` folders (complete or not), oldest step first."""
    if not checkpoints_dir.is_dir():
        return []
    folders = [p for p in checkpoints_dir.iterdir() if p.is_dir() and checkpoint_step(p) is not None]
    return sorted(folders, key=checkpoint_step)


def is_complete(folder: Path) -> bool:
    """Whether a checkpoint folder finished writing (its marker exists)."""
    return (folder / CHECKPOINT_COMPLETE).is_file()


def complete_checkpoints(run_dir: Path) -> list[Path]:
    """The checkpoint folders of a run whose write finished, oldest step first."""
    return [p for p in checkpoint_folders(RunDir(Path(run_dir)).checkpoints) if is_complete(p)]


def last_complete_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint folder of a run whose write finished, or None."""
    complete = complete_checkpoints(run_dir)
    return complete[-1] if complete else None
