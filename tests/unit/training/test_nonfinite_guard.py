"""`--on-nonfinite`'s guard: a NaN/inf loss or gradient stops the run (or skips the update) before the
optimizer step."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


def test_guard_sees_nonfinite_gradients_and_skips_only_that_update():
    """A NaN gradient with a finite loss: `stop` raises naming the step; `skip-step` leaves the weights as they were."""
    from types import SimpleNamespace

    from seq2seq_adapters.training.nonfinite_guard import NonFiniteGuard, NonFiniteTraining

    model = torch.nn.Linear(2, 1)
    args, state = SimpleNamespace(fp16=False, device="cpu"), SimpleNamespace(global_step=6)
    model.weight.grad = torch.tensor([[float("nan"), 1.0]])
    guard = NonFiniteGuard("stop", Path("/nonexistent-run"))
    guard.observe_loss(torch.tensor(0.5))
    with pytest.raises(NonFiniteTraining, match=r"non-finite gradient at step 7; .*no checkpoint was saved before"):
        guard.on_pre_optimizer_step(args, state, None, model=model)
    before = model.weight.detach().clone()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    with pytest.warns(UserWarning, match="non-finite gradient at step 7"):
        NonFiniteGuard("skip-step", Path("/nonexistent-run")).on_pre_optimizer_step(args, state, None, model=model)
    optimizer.step()
    assert torch.equal(model.weight, before) and model.weight.grad is None
