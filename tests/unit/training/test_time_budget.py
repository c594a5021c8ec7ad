"""--max-time: the re-planned schedule never trains a step at learning rate 0, and the progress line's total
never falls below the step reached, when steps run faster than the plan assumed."""

from __future__ import annotations

import io

import torch
from rich.console import Console
from transformers import TrainerControl, TrainerState, TrainingArguments
from transformers.optimization import get_scheduler

from seq2seq_adapters.training import time_budget
from seq2seq_adapters.training.step_lines import StepLines
from seq2seq_adapters.training.time_budget import TimeBudget


def test_faster_steps_than_planned_never_train_at_learning_rate_zero(tmp_path, monkeypatch):
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=1e-2, lr_scheduler_type="linear", max_steps=10_000,
                             logging_steps=10, report_to=[], use_cpu=True)
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([weight], lr=args.learning_rate)
    scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0, num_training_steps=args.max_steps)
    clock = [0.0]
    monkeypatch.setattr(time_budget.time, "perf_counter", lambda: clock[0])
    state, control = TrainerState(global_step=0, max_steps=args.max_steps), TrainerControl()
    budget = TimeBudget(seconds=100.0)
    budget.on_train_begin(args, state, control)
    used, planned = [], []
    while not control.should_training_stop:
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
        state.global_step += 1
        clock[0] += 1.0 if state.global_step <= 20 else 0.25  # the first steps are slow: the first plan is too short
        control.should_log = state.global_step % args.logging_steps == 0
        budget.on_step_end(args, state, control, lr_scheduler=scheduler, optimizer=optimizer)
        planned.append(budget.planned_steps)
    assert budget.stopped_by_budget and state.global_step > 200  # 20 slow steps, then 4 a second
    assert min(used) > 0, f"a step trained at learning rate 0 (step {used.index(min(used)) + 1})"
    assert all(plan is None or plan > step for step, plan in enumerate(planned[:-1], start=1))


def test_the_progress_total_never_falls_below_the_step_reached(tmp_path):
    output = io.StringIO()
    lines = StepLines(Console(file=output, width=200), planned_steps=lambda: 491)
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=2, report_to=[], use_cpu=True)
    state = TrainerState(global_step=490, max_steps=10_000, is_world_process_zero=True)
    lines.on_train_begin(args, state, TrainerControl())
    state.global_step = 493
    lines.on_log(args, state, TrainerControl(), logs={"loss": 1.0, "learning_rate": 1e-3})
    assert "step 493/493 " in output.getvalue()
