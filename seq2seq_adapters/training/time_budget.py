"""`--max-time`: stop at the step boundary where a wall-clock budget runs out, with the learning-rate
schedule re-planned for the steps that fit (so the run ends at the end of its decay, not in the middle)."""

from __future__ import annotations

import time

from transformers import TrainerCallback
from transformers.optimization import get_scheduler

from seq2seq_adapters.core.distributed import rank_max
from seq2seq_adapters.training.transformers_internals import set_last_lr

MEASURED_STEPS = 3
"""Optimizer steps timed before the first plan (the first steps pay for warm-up and allocation)."""


def replan_schedule(lr_scheduler, optimizer, args, total_steps: int) -> None:
    """Give the running LambdaLR the schedule the Trainer would have built for `total_steps`, at its current step."""
    fresh = get_scheduler(
        args.lr_scheduler_type,
        optimizer=optimizer,
        num_warmup_steps=args.get_warmup_steps(total_steps),
        num_training_steps=total_steps,
        scheduler_specific_kwargs=args.lr_scheduler_kwargs,
    )
    lr_scheduler.lr_lambdas = fresh.lr_lambdas
    lrs = [base * rule(lr_scheduler.last_epoch) for base, rule in zip(lr_scheduler.base_lrs, lr_scheduler.lr_lambdas)]
    for group, lr in zip(optimizer.param_groups, lrs):
        group["lr"] = lr
    set_last_lr(lr_scheduler, lrs)


class TimeBudget(TrainerCallback):
    """Stop (with a checkpoint) at the first step end past `seconds` of training; plan the schedule for the
    steps that fit, re-estimated at every logging step from the time per step so far, and whenever the steps
    run faster than planned and reach the plan's end (its last step would train at learning rate 0)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.start = 0.0
        self.first_step = 0
        self.planned_steps: int | None = None
        self.stopped_by_budget = False

    def on_train_begin(self, args, state, control, **kwargs):
        self.start, self.first_step = time.perf_counter(), state.global_step

    def on_step_end(self, args, state, control, lr_scheduler=None, optimizer=None, **kwargs):
        [elapsed] = rank_max([time.perf_counter() - self.start], args.device)  # one clock for all ranks: one schedule
        if elapsed >= self.seconds:
            self.stopped_by_budget = True
            control.should_save = True
            control.should_evaluate = args.eval_strategy != "no"  # the last weights compete for best too
            control.should_training_stop = True
            return control
        done = state.global_step - self.first_step
        plan_spent = self.planned_steps is not None and state.global_step >= self.planned_steps
        if done >= MEASURED_STEPS and (self.planned_steps is None or control.should_log or plan_spent):
            fits = state.global_step + int((self.seconds - elapsed) / (elapsed / done))
            # time is left (else the budget stopped above): at least one more step, never one at learning rate 0
            planned = min(max(fits, state.global_step + 1), state.max_steps)
            if planned != self.planned_steps and hasattr(lr_scheduler, "lr_lambdas"):
                replan_schedule(lr_scheduler, optimizer, args, planned)
            self.planned_steps = planned
        return control

    def record(self, state) -> dict:
        """What run.json says about the budget."""
        return {
            "max_time_s": self.seconds,
            "planned_steps": self.planned_steps,
            "steps_reached": state.global_step,
            "stopped_by_budget": self.stopped_by_budget,
        }
