"""Resumable checkpoints that survive interruption.

- A checkpoint folder counts only once its `COMPLETE` marker exists; the marker is written last.
- Old checkpoints are removed only after a newer one is complete (and their marker goes first), so a
  process killed at any moment (even SIGKILL) leaves the previous complete checkpoint loadable.

Stopping on a signal is stopping.py; the batch order that resumes identically is sampler.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from .io_utils import atomic_write_text
from .run_dir import RunDir

CHECKPOINT_COMPLETE = "COMPLETE"
"""Marker written last into a checkpoint folder: a folder without it was interrupted mid-write."""


def checkpoint_step(folder: Path) -> int | None:
    """The step of a `checkpoint-N` folder, or None for any other name."""
    prefix, _, number = folder.name.rpartition("-")
    return int(number) if prefix == PREFIX_CHECKPOINT_DIR and number.isdigit() else None


def checkpoint_folders(checkpoints_dir: Path) -> list[Path]:
    """`checkpoint-N` folders (complete or not), oldest step first."""
    if not checkpoints_dir.is_dir():
        return []
    folders = [p for p in checkpoints_dir.iterdir() if p.is_dir() and checkpoint_step(p) is not None]
    return sorted(folders, key=checkpoint_step)


def is_complete(folder: Path) -> bool:
    return (folder / CHECKPOINT_COMPLETE).is_file()


def last_complete_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint folder of a run whose write finished, or None."""
    complete = [p for p in checkpoint_folders(RunDir(Path(run_dir)).checkpoints) if is_complete(p)]
    return complete[-1] if complete else None


def mark_complete(folder: Path) -> None:
    """Write the marker that makes a checkpoint count (after every other file of it is written)."""
    atomic_write_text(folder / CHECKPOINT_COMPLETE, "ok\n")


def discard_checkpoint(folder: Path) -> None:
    """Delete a checkpoint folder, marker first: a half-deleted folder never looks complete."""
    (folder / CHECKPOINT_COMPLETE).unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def rotate_checkpoints(checkpoints_dir: Path, limit: int, keep: str | Path | None = None) -> None:
    """Drop incomplete folders and all but the newest `limit` (>= 1) complete checkpoints (and `keep`, the best)."""
    folders = checkpoint_folders(checkpoints_dir)
    complete = [p for p in folders if is_complete(p)]
    kept = {p.resolve() for p in complete[-limit:]}
    if keep:
        kept.add(Path(keep).resolve())
    for folder in folders:
        if folder.resolve() not in kept:
            discard_checkpoint(folder)


