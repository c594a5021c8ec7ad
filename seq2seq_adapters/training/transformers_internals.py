"""Every private of transformers (and the one of torch's LR scheduler) that s2sa uses, in this one module.

The Trainer has no public hook for what s2sa changes in it: what a checkpoint holds and when old ones are
deleted, the batch order, how weights come back on resume, and the running loss carried across a resume. So
s2sa overrides, calls and writes privates, and any transformers release may rename or reshape them. Here
each is used once, listed in `PRIVATES` with the signature s2sa expects, and checked against the installed
transformers by tests/unit/training/test_transformers_internals.py: an upgrade that changes one fails that
test with the private's name, not a training run somewhere deep inside the Trainer.

Overridden, each turned into a public hook of `Seq2SeqTrainerHooks` (the stock behaviour unless
`SummarizationTrainer` overrides it):

- `Seq2SeqTrainer._save(self, output_dir, state_dict)` -> `save_weights`: what a saved model folder holds
- `Seq2SeqTrainer._save_checkpoint(self, model, trial)` -> `save_checkpoint`: writing checkpoint-N (also called)
- `Seq2SeqTrainer._rotate_checkpoints(self, use_mtime, output_dir)` -> `delete_old_checkpoints`
- `Seq2SeqTrainer._sorted_checkpoints(self, output_dir, checkpoint_prefix, use_mtime)` -> `sorted_checkpoints`
- `Seq2SeqTrainer._get_train_sampler(self, train_dataset)` -> `train_sampler` (also called)
- `Seq2SeqTrainer._load_from_checkpoint(self, resume_from_checkpoint, model)` -> `load_checkpoint_weights`
- `Seq2SeqTrainer._load_best_model(self)` -> `load_best_model`
- `Seq2SeqTrainer._maybe_log_save_evaluate(self, tr_loss, ...)` -> `log_save_evaluate` (also called)

Called:

- `Seq2SeqTrainer._get_output_dir(self, trial)` -> `checkpoints_dir`
- `Seq2SeqTrainer._nested_gather(self, tensors, name)` -> `gather`

Attributes read and written:

- `Seq2SeqTrainer._total_loss_scalar`, `Seq2SeqTrainer._globalstep_last_logged` -> `logged_loss`,
  `set_logged_loss`: the running loss a checkpoint stores and a resume restores (running_loss.py)
- `LRScheduler._last_lr` (torch's, on the LambdaLR that transformers' `get_scheduler` returns) ->
  `set_last_lr`: the learning rate the Trainer logs after `--max-time` re-plans the schedule (time_budget.py)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.optim.lr_scheduler import LRScheduler
from transformers import Seq2SeqTrainer
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR


@dataclass(frozen=True)
class Private:
    """One private s2sa relies on, and what it relies on."""

    owner: type
    name: str
    parameters: tuple[str, ...] | None
    """A method's parameter names in order (as inspect.signature gives them); None for an attribute."""
    use: str

    @property
    def label(self) -> str:
        return f"{self.owner.__name__}.{self.name}"


PRIVATES: tuple[Private, ...] = (
    Private(Seq2SeqTrainer, "_save", ("self", "output_dir", "state_dict"), "overridden: a model folder holds the adapter and non-adapter weights"),
    Private(Seq2SeqTrainer, "_save_checkpoint", ("self", "model", "trial"), "overridden and called: COMPLETE marker, rotation after it"),
    Private(Seq2SeqTrainer, "_rotate_checkpoints", ("self", "use_mtime", "output_dir"), "overridden: no rotation before the COMPLETE marker"),
    Private(Seq2SeqTrainer, "_sorted_checkpoints", ("self", "output_dir", "checkpoint_prefix", "use_mtime"),
            "overridden: the checkpoints the Trainer may delete at the end"),
    Private(Seq2SeqTrainer, "_get_train_sampler", ("self", "train_dataset"), "overridden and called: the length-grouped sampler"),
    Private(Seq2SeqTrainer, "_load_from_checkpoint", ("self", "resume_from_checkpoint", "model"), "overridden: a resume loads our weights"),
    Private(Seq2SeqTrainer, "_load_best_model", ("self",), "overridden: the best checkpoint's weights at the end"),
    Private(Seq2SeqTrainer, "_maybe_log_save_evaluate",
            ("self", "tr_loss", "grad_norm", "model", "trial", "epoch", "ignore_keys_for_eval", "start_time", "learning_rate"),
            "overridden and called: the loop's running loss (`tr_loss`, its first argument) for a checkpoint's loss book"),
    Private(Seq2SeqTrainer, "_get_output_dir", ("self", "trial"), "called: the folder checkpoint-N goes into"),
    Private(Seq2SeqTrainer, "_nested_gather", ("self", "tensors", "name"), "called: the running loss gathered over processes"),
    Private(Seq2SeqTrainer, "_total_loss_scalar", None, "read and written: the sum of the logged losses"),
    Private(Seq2SeqTrainer, "_globalstep_last_logged", None, "read and written: the step of the last log"),
    Private(LRScheduler, "_last_lr", None, "written: the learning rate get_last_lr() returns and the Trainer logs"),
)  # fmt: skip
"""What the installed transformers (and torch) must still have; tests/unit/training/test_transformers_internals.py checks it."""


class Seq2SeqTrainerHooks(Seq2SeqTrainer):
    """Seq2SeqTrainer with the private methods s2sa changes turned into public hooks (same arguments; the stock
    behaviour until a subclass overrides them), and the private attributes it reads and writes behind methods."""

    def _save(self, output_dir: str | None = None, state_dict=None) -> None:
        self.save_weights(output_dir, state_dict)

    def save_weights(self, output_dir: str | None = None, state_dict=None) -> None:
        """What `save_model` and every checkpoint write as the model's files."""
        super()._save(output_dir, state_dict)

    def _save_checkpoint(self, model, trial) -> None:
        self.save_checkpoint(model, trial)

    def save_checkpoint(self, model, trial) -> None:
        """Write checkpoint-N: model files, optimizer, scheduler, RNG and trainer state."""
        super()._save_checkpoint(model, trial)

    def _rotate_checkpoints(self, use_mtime: bool = False, output_dir: str | None = None) -> None:
        self.delete_old_checkpoints(use_mtime, output_dir)

    def delete_old_checkpoints(self, use_mtime: bool = False, output_dir: str | None = None) -> None:
        """The Trainer's rotation (save_total_limit), called inside the stock `save_checkpoint`."""
        super()._rotate_checkpoints(use_mtime, output_dir)

    def _sorted_checkpoints(self, output_dir=None, checkpoint_prefix=PREFIX_CHECKPOINT_DIR, use_mtime=False) -> list[str]:
        return self.sorted_checkpoints(output_dir, checkpoint_prefix, use_mtime)

    def sorted_checkpoints(self, output_dir=None, checkpoint_prefix=PREFIX_CHECKPOINT_DIR, use_mtime=False) -> list[str]:
        """Checkpoint folders, oldest first: rotation and the end of training delete from the front."""
        return super()._sorted_checkpoints(output_dir, checkpoint_prefix, use_mtime)

    def _get_train_sampler(self, train_dataset=None):
        return self.train_sampler(train_dataset)

    def train_sampler(self, train_dataset=None):
        """The sampler of the training batches."""
        return super()._get_train_sampler(train_dataset)

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None) -> None:
        self.load_checkpoint_weights(resume_from_checkpoint, model)

    def load_checkpoint_weights(self, resume_from_checkpoint, model=None) -> None:
        """Put the weights of the checkpoint a resume starts from into the model."""
        super()._load_from_checkpoint(resume_from_checkpoint, model)

    def _load_best_model(self) -> None:
        self.load_best_model()

    def load_best_model(self) -> None:
        """Put the best checkpoint's weights into the model (load_best_model_at_end)."""
        super()._load_best_model()

    def _maybe_log_save_evaluate(self, tr_loss, *args, **kwargs):
        return self.log_save_evaluate(tr_loss, *args, **kwargs)

    def log_save_evaluate(self, tr_loss: torch.Tensor, *args, **kwargs):
        """Log, save and evaluate when due; `tr_loss` is the loop's loss summed since the last log."""
        return super()._maybe_log_save_evaluate(tr_loss, *args, **kwargs)

    def checkpoints_dir(self, trial) -> Path:
        """The folder the checkpoint-N folders go into."""
        return Path(self._get_output_dir(trial=trial))

    def gather(self, tensors: torch.Tensor) -> torch.Tensor:
        """`tensors` from every process, concatenated (as they are with one process)."""
        return self._nested_gather(tensors)

    def logged_loss(self) -> tuple[float, int]:
        """(sum of the losses of every logged interval, step of the last log), as the training loop keeps them."""
        return self._total_loss_scalar, self._globalstep_last_logged

    def set_logged_loss(self, total: float, last_logged_step: int) -> None:
        """Give the training loop a checkpoint's logged-loss bookkeeping back (a resumed loop starts it afresh)."""
        self._total_loss_scalar = total
        self._globalstep_last_logged = last_logged_step


def set_last_lr(lr_scheduler: LRScheduler, lrs: list[float]) -> None:
    """What the scheduler's `get_last_lr()` returns (and the Trainer logs as learning_rate) until its next step."""
    lr_scheduler._last_lr = lrs
