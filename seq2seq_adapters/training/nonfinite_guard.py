"""Catch a NaN/inf loss or gradient before the optimizer step puts it into the weights (`--on-nonfinite`).

`stop` (default) ends the run with one error line naming the step: the checkpoints saved so far stay,
and no adapter, report or run.json is written. `skip-step` drops that step's gradients instead (AdamW
leaves a parameter without a gradient untouched; the learning-rate schedule goes on) and warns.
Weights are checked before anything saves them: one finite-looking step with a huge learning rate can
overflow them, and that cannot be skipped. Under fp16 the gradient scaler skips overflowing steps
itself, so only the loss is checked there.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import torch
from transformers import TrainerCallback

from seq2seq_adapters.core.distributed import any_process
from seq2seq_adapters.core.errors import S2SAError, S2SAWarning
from seq2seq_adapters.layout.checkpoint_folder import last_complete_checkpoint


class NonFiniteTraining(S2SAError):
    """Training produced a NaN/inf loss, gradient or weight; the run stops (exit 1)."""


def nonfinite_weights(model: torch.nn.Module) -> list[str]:
    """Names of the trainable parameters holding a NaN or inf."""
    return [name for name, p in model.named_parameters() if p.requires_grad and not torch.isfinite(p).all()]


class NonFiniteGuard(TrainerCallback):
    """Checks each optimizer step's loss and gradients, and the weights before they are saved."""

    def __init__(self, mode: str, run_dir: Path) -> None:
        self.mode = mode
        self.run_dir = run_dir
        self.loss_finite: torch.Tensor | None = None
        """Whether every micro-batch loss of the current step was finite (kept on the device: no sync per batch)."""

    def observe_loss(self, loss: torch.Tensor) -> None:
        """Called by the Trainer with each micro-batch's loss."""
        finite = torch.isfinite(loss.detach()).all()
        self.loss_finite = finite if self.loss_finite is None else self.loss_finite & finite

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        grads = [p.grad for p in model.parameters() if p.grad is not None] if not args.fp16 else []
        ok = torch.ones((), dtype=torch.bool, device=args.device)
        loss_ok = ok if self.loss_finite is None else self.loss_finite.to(ok.device)
        self.loss_finite = None
        # the largest |gradient| is NaN or inf exactly when some gradient holds one: one fused reduction over all of
        # them (CUDA's foreach path: a few kernels, not two per tensor), and one device-to-host copy for both flags
        gradient_ok = torch.isfinite(torch.nn.utils.get_total_norm(grads, norm_type=math.inf)).to(ok.device) if grads else ok
        loss_ok, gradient_ok = torch.stack([loss_ok, gradient_ok]).tolist()
        bad_loss, bad_gradient = any_process([not loss_ok, not gradient_ok], args.device)
        if not (bad_loss or bad_gradient):
            return
        what = "loss" if bad_loss else "gradient"
        step = state.global_step + 1
        if self.mode == "skip-step":
            model.zero_grad(set_to_none=True)
            warnings.warn(f"non-finite {what} at step {step}: its update skipped (--on-nonfinite skip-step)", S2SAWarning)
            return
        raise self.error(f"non-finite {what} at step {step}; stopped before it reached the weights", skippable=True)

    def check_weights(self, model: torch.nn.Module, step: int) -> None:
        """Refuse to save NaN/inf weights (whatever --on-nonfinite says: a bad update cannot be skipped afterwards)."""
        bad = nonfinite_weights(model)
        if bad:
            raise self.error(f"non-finite weights after step {step} ({len(bad)} tensors, e.g. {bad[0]}); stopped before saving them")

    def error(self, what: str, skippable: bool = False) -> NonFiniteTraining:
        """The one-line error: what went wrong where, which checkpoint is left, what to change."""
        checkpoint = last_complete_checkpoint(self.run_dir)
        kept = f"the last complete checkpoint is {checkpoint}" if checkpoint else "no checkpoint was saved before"
        hint = ", or --on-nonfinite skip-step" if skippable else ""
        return NonFiniteTraining(f"{what}; {kept}; start again with a lower --learning-rate{hint}")
