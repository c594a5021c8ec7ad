"""Resumable checkpoints that survive interruption.

- A checkpoint folder counts only once its `COMPLETE` marker exists; the marker is written last.
- Old checkpoints are removed only after a newer one is complete (and their marker goes first), so a
  process killed at any moment (even SIGKILL) leaves the previous complete checkpoint loadable.
- `--resume` reads every file of a checkpoint back before it uses it (a complete checkpoint can still be
  damaged later, e.g. truncated by a full disk) and falls back to an older complete one; checkpoints
  newer than the step being saved belong to a run that was resumed from further back and are dropped.

Stopping on a signal is stopping.py; the batch order that resumes identically is sampler.py.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from transformers import TrainerState
from transformers.trainer import TRAINER_STATE_NAME, safe_globals

from seq2seq_adapters.core.files import atomic_write_text
from seq2seq_adapters.layout.artifact_folder import METADATA, NON_ADAPTER_WEIGHTS
from seq2seq_adapters.layout.checkpoint_folder import (
    CHECKPOINT_COMPLETE,
    checkpoint_folders,
    checkpoint_step,
    complete_checkpoints,
    is_complete,
)
from seq2seq_adapters.layout.run_folder import ADAPTER_DIR

REQUIRED_FILES = (TRAINER_STATE_NAME, "optimizer.pt", "scheduler.pt", f"{ADAPTER_DIR}/{METADATA}", f"{ADAPTER_DIR}/{NON_ADAPTER_WEIGHTS}")
"""What a resume cannot do without (the Trainer would silently start a fresh optimizer without optimizer.pt)."""


def _read_back(path: Path) -> None:
    """Read a checkpoint file in full the way resuming reads it."""
    if path.suffix == ".json":
        json.loads(path.read_text(encoding="utf-8"))
    elif path.suffix == ".safetensors":
        load_file(str(path))
    elif path.suffix in (".pt", ".pth"):
        with safe_globals():  # the numpy types of the Trainer's RNG state
            torch.load(path, map_location="cpu", weights_only=True)


def checkpoint_problem(folder: Path) -> str | None:
    """Why resuming from `folder` would fail (a missing, truncated or corrupted file), or None."""
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        return f"{missing[0]} is missing"
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            _read_back(path)
            if path.name == TRAINER_STATE_NAME and TrainerState.load_from_json(str(path)).global_step != checkpoint_step(folder):
                return f"{TRAINER_STATE_NAME} is not the state of step {checkpoint_step(folder)}"
        except (OSError, ValueError, TypeError, RuntimeError, EOFError, pickle.UnpicklingError, SafetensorError) as exc:
            reason = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
            return f"{path.relative_to(folder)} is damaged: {reason.split('. ')[0]}"
    return None


def loadable_checkpoint(run_dir: Path) -> tuple[Path | None, list[str]]:
    """The newest complete checkpoint that reads back in full, and `name (problem)` of each newer one passed over."""
    passed_over = []
    for checkpoint in reversed(complete_checkpoints(run_dir)):
        problem = checkpoint_problem(checkpoint)
        if problem is None:
            return checkpoint, passed_over
        passed_over.append(f"{checkpoint.name} ({problem})")
    return None, passed_over


def mark_complete(folder: Path) -> None:
    """Write the marker that makes a checkpoint count (after every other file of it is written)."""
    atomic_write_text(folder / CHECKPOINT_COMPLETE, "ok\n")


def discard_checkpoint(folder: Path) -> None:
    """Delete a checkpoint folder, marker first: a half-deleted folder never looks complete."""
    (folder / CHECKPOINT_COMPLETE).unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def rotate_checkpoints(checkpoints_dir: Path, limit: int, step: int, keep: str | Path | None = None) -> None:
    """After saving checkpoint-`step`: drop incomplete folders, those of later steps (left by a run that
    resumed from further back), and all but the newest `limit` (>= 1) complete checkpoints (and `keep`, the best)."""
    folders = checkpoint_folders(checkpoints_dir)
    complete = [p for p in folders if is_complete(p) and checkpoint_step(p) <= step]
    kept = {p.resolve() for p in complete[-limit:]}
    if keep:
        kept.add(Path(keep).resolve())
    for folder in folders:
        if folder.resolve() not in kept:
            discard_checkpoint(folder)


