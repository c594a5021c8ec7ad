"""Resumable checkpoints that survive interruption.

- A checkpoint folder counts only once its `COMPLETE` marker exists; the marker is written last.
- Old checkpoints are removed only after a newer one is complete (and their marker goes first), so a
  process killed at any moment (even SIGKILL) leaves the previous complete checkpoint loadable.
- SIGINT/SIGTERM during training finish the current optimizer step, save a checkpoint and stop
  (`TrainingInterrupted`, exit code 130); a second signal stops at once.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import torch
from rich.console import Console
from rich.markup import escape
from transformers import TrainerCallback
from transformers.trainer_pt_utils import LengthGroupedSampler
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from .errors import S2SAError
from .io_utils import atomic_write_text
from .run_dir import RunDir

CHECKPOINT_COMPLETE = "COMPLETE"
"""Marker written last into a checkpoint folder: a folder without it was interrupted mid-write."""
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(S2SAError):
    """Training stopped on a signal; the message says how to resume. The CLI exits with 130."""

    exit_code = 130
    label = "stopped"


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


def rotate_checkpoints(checkpoints_dir: Path, limit: int | None, keep: str | Path | None = None) -> None:
    """Drop incomplete folders and all but the newest `limit` complete checkpoints (and `keep`, the best)."""
    folders = checkpoint_folders(checkpoints_dir)
    complete = [p for p in folders if is_complete(p)]
    kept = {p.resolve() for p in (complete[-limit:] if limit and limit > 0 else complete)}
    if keep:
        kept.add(Path(keep).resolve())
    for folder in folders:
        if folder.resolve() not in kept:
            discard_checkpoint(folder)


def truncate_metrics(path: Path, last_step: int) -> None:
    """Keep only metrics.jsonl lines up to `last_step` (the steps after it are trained again on resume),
    minus the end-of-session summary an interrupted session wrote: the file reads as one uninterrupted run."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short by a kill
        if isinstance(record, dict) and record.get("step", 0) <= last_step and "train_runtime" not in record:
            kept.append(line + "\n")
    atomic_write_text(path, "".join(kept))


class EpochSeededLengthGroupedSampler(LengthGroupedSampler):
    """LengthGroupedSampler whose order depends only on (seed, epoch), not on the global torch RNG.

    The stock sampler draws from the global RNG, whose state at an epoch start differs between an
    uninterrupted run and a resumed one; this one gives the same batches either way.
    """

    def __init__(self, *args, seed: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        self.generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return super().__iter__()


class GracefulStop(TrainerCallback):
    """After a stop signal, save a checkpoint and stop at the end of the current optimizer step.

    Under several processes every rank stops after the same step (the flag is max-reduced each step).
    """

    def __init__(self) -> None:
        self.signal: int | None = None
        self.stopped = False

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signal).name if self.signal is not None else "a stop signal on another rank"

    def on_step_end(self, args, state, control, **kwargs):
        stop = self.signal is not None
        if args.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            flag = torch.tensor([int(stop)], device=args.device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            stop = bool(flag.item())
        if stop:
            self.stopped = True
            control.should_save = True
            control.should_training_stop = True
        return control


@contextlib.contextmanager
def stop_on_signals(stopper: GracefulStop, console: Console) -> Iterator[None]:
    """Route SIGINT/SIGTERM to `stopper` while the block runs (main thread only); restore handlers after.

    The first signal asks for a checkpoint and a stop at the next step end; a second one raises
    KeyboardInterrupt at once.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum, frame):
        if stopper.signal is not None:
            for number, handler in previous.items():
                signal.signal(number, handler)
            raise KeyboardInterrupt
        stopper.signal = signum
        console.print(
            f"[yellow]{escape(signal.Signals(signum).name)}: finishing the current step and saving a checkpoint; "
            "send it again to stop at once[/]",
            highlight=False,
        )

    previous = {number: signal.getsignal(number) or signal.SIG_DFL for number in STOP_SIGNALS}
    try:
        for number in STOP_SIGNALS:
            signal.signal(number, handle)
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
