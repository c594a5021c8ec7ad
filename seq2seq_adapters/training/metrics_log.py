"""metrics.jsonl: one JSON line per logging step, cut back to a checkpoint's step on resume (only once the
Trainer has loaded that checkpoint: a resume that fails leaves the file as it was)."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import TrainerCallback

from seq2seq_adapters.core.files import append_jsonl, atomic_write_text, naming_a_full_disk


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


class MetricsFileCallback(TrainerCallback):
    """Append one JSON line per logging step (loss, learning rate, step, epoch) to metrics.jsonl."""

    def __init__(self, path: Path):
        self.path = path

    def on_train_begin(self, args, state, control, **kwargs):
        """The checkpoint (if any) is loaded by now: drop the lines of the steps that will be trained again."""
        if state.is_world_process_zero:
            truncate_metrics(self.path, state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            with naming_a_full_disk(self.path):
                append_jsonl(self.path, {"step": state.global_step, "epoch": state.epoch, **logs})
