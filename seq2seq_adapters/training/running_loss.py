"""The Trainer's running loss, carried across a resume: logged losses and train_loss equal an uninterrupted run's.

The Trainer keeps three numbers: the loss summed since the last log (a tensor local to its training loop),
the sum of the logged losses, and the step of the last log. On resume it starts them afresh, so the first
logged loss and the final train_loss counted only the steps after the resume. A checkpoint stores them in
its own trainer_state.json (under `stateful_callbacks`, which the Trainer saves and reads back), and the
resumed Trainer gets them back (see SummarizationTrainer.training_step; the Trainer's private attributes
behind them are reached through transformers_internals.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from transformers import TrainerState

KEY = "s2sa_loss_book"
"""Where the book lives in trainer_state.json's `stateful_callbacks` (the Trainer restores only callbacks
it is told to, and none of ours, so the entry is left to us)."""


@dataclass(frozen=True)
class LossBook:
    """The Trainer's loss bookkeeping at a checkpoint."""

    logged_total: float
    """Sum of the losses of every logged interval (Trainer._total_loss_scalar)."""
    since_log: float
    """Loss summed over the steps since the last log (the Trainer's `tr_loss`), averaged over processes."""
    last_logged_step: int
    """Step of the last log (Trainer._globalstep_last_logged)."""

    def save(self, state: TrainerState) -> None:
        """Put the book into the state the Trainer is about to write into a checkpoint."""
        state.stateful_callbacks[KEY] = asdict(self)

    @classmethod
    def saved(cls, state: TrainerState) -> LossBook | None:
        """The book of a loaded checkpoint's state (None for checkpoints written before it existed)."""
        raw = state.stateful_callbacks.get(KEY)
        return cls(**raw) if isinstance(raw, dict) else None

    def train_loss(self, step: int) -> float:
        """Mean loss per step over the whole run, as the Trainer computes it at the end of training."""
        return (self.logged_total + self.since_log) / max(step, 0.001)
