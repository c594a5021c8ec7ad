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


@pytest.mark.parametrize(
    ("loss", "bad_grad", "message"),
    [
        (float("nan"), None, "non-finite loss at step 7"),
        (0.5, float("inf"), "non-finite gradient at step 7"),
        (0.5, -float("inf"), "non-finite gradient at step 7"),
        (0.5, float("nan"), "non-finite gradient at step 7"),  # in one element of the last of several tensors
        (float("inf"), float("nan"), "non-finite loss at step 7"),  # the loss is named first
        (0.5, None, None),
        (0.5, 3e38, None),  # huge but finite: no sum of squares that would overflow
    ],
)
def test_one_fused_check_over_every_gradient_names_what_is_not_finite(loss, bad_grad, message):
    from types import SimpleNamespace

    from seq2seq_adapters.training.nonfinite_guard import NonFiniteGuard, NonFiniteTraining

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    for parameter in model.parameters():
        parameter.grad = torch.ones_like(parameter)
    if bad_grad is not None:
        model[1].bias.grad[1] = bad_grad
    args, state = SimpleNamespace(fp16=False, device="cpu"), SimpleNamespace(global_step=6)
    guard = NonFiniteGuard("stop", Path("/nonexistent-run"))
    guard.observe_loss(torch.tensor(0.5))
    guard.observe_loss(torch.tensor(loss))  # two micro-batches: either one being non-finite counts
    if message is None:
        guard.on_pre_optimizer_step(args, state, None, model=model)
    else:
        with pytest.raises(NonFiniteTraining, match=message):
            guard.on_pre_optimizer_step(args, state, None, model=model)
    assert guard.loss_finite is None  # the next step starts afresh
