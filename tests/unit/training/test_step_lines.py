"""Training progress without a terminal: one plain line per logging step (step/total, loss, lr, samples/s,
elapsed, ETA) and per evaluation, from rank 0 only."""

from __future__ import annotations

import io

from rich.console import Console
from transformers import TrainerControl, TrainerState, TrainingArguments

from seq2seq_adapters.training import step_lines
from seq2seq_adapters.training.step_lines import StepLines


def test_a_line_per_logging_step_and_per_evaluation(tmp_path, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(step_lines.time, "perf_counter", lambda: clock[0])
    output = io.StringIO()
    lines = StepLines(Console(file=output, width=200))
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=4, gradient_accumulation_steps=2,
                             report_to=[], use_cpu=True)
    state, control = TrainerState(global_step=0, max_steps=40, is_world_process_zero=True), TrainerControl()
    lines.on_train_begin(args, state, control)
    clock[0], state.global_step = 110.0, 10  # 10 steps of 8 samples in 10 s
    lines.on_log(args, state, control, logs={"loss": 2.34567, "learning_rate": 5e-4})
    clock[0], state.global_step = 115.0, 20
    lines.on_log(args, state, control, logs={"eval_loss": 2.1, "eval_rouge1": 12.345, "eval_runtime": 3.0})
    lines.on_log(args, TrainerState(global_step=20, max_steps=40, is_world_process_zero=False), control, logs={"loss": 1.0})
    assert output.getvalue().splitlines() == [
        "step 10/40 · loss 2.3457 · lr 5.00e-04 · 8.0 samples/s · elapsed 0:00:10 · ETA 0:00:30",
        "step 20/40 · validation loss 2.1 · rouge1 12.35",
    ]


def test_a_resumed_run_counts_its_rate_and_eta_from_where_it_started(tmp_path, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(step_lines.time, "perf_counter", lambda: clock[0])
    output = io.StringIO()
    lines = StepLines(Console(file=output, width=200), planned_steps=lambda: 60)
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=2, report_to=[], use_cpu=True)
    state, control = TrainerState(global_step=30, max_steps=100, is_world_process_zero=True), TrainerControl()
    lines.on_train_begin(args, state, control)
    clock[0], state.global_step = 20.0, 40  # 10 steps in 20 s since the resume: 20 more steps planned take 40 s
    lines.on_log(args, state, control, logs={"loss": 1.0, "learning_rate": 1e-3})
    assert output.getvalue().strip() == "step 40/60 · loss 1.0000 · lr 1.00e-03 · 1.0 samples/s · elapsed 0:00:20 · ETA 0:00:40"
