"""Training progress without a terminal: one plain line per logging step and per evaluation, so that a log
file or a batch job's output shows the run as it goes (a Rich bar would print one frame at the end)."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console
from transformers import TrainerCallback

from seq2seq_adapters.core.progress import clock, plain_line


class StepLines(TrainerCallback):
    """Without a terminal: one line per logging step (step/total, loss, lr, samples/s, elapsed, ETA) and per evaluation.

    `total` reads the planned steps of a `--max-time` budget when there is one."""

    def __init__(self, console: Console, planned_steps: Callable[[], int | None] = lambda: None):
        self.console = console
        self.planned_steps = planned_steps
        self.start = 0.0
        self.first_step = 0
        self.last = (0.0, 0)

    def on_train_begin(self, args, state, control, **kwargs):
        self.start, self.first_step = time.perf_counter(), state.global_step
        self.last = (self.start, state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        now, step = time.perf_counter(), state.global_step
        total = max(self.planned_steps() or state.max_steps, step)  # a plan is an estimate: never 493/491
        if "loss" in logs:
            since, since_step = self.last
            samples_per_s = (step - since_step) * args.train_batch_size * args.gradient_accumulation_steps * args.world_size / max(now - since, 1e-9)
            done = step - self.first_step
            eta = (now - self.start) / done * (total - step) if done else 0.0
            self.last = (now, step)
            plain_line(
                self.console,
                f"step {step}/{total} · loss {logs['loss']:.4f} · lr {logs.get('learning_rate', 0.0):.2e} · "
                f"{samples_per_s:.1f} samples/s · elapsed {clock(now - self.start)} · ETA {clock(eta)}",
            )
        elif "eval_loss" in logs:
            scores = " · ".join(f"{key.removeprefix('eval_')} {value:.4g}" for key, value in logs.items() if key.startswith("eval_") and ("loss" in key or "rouge" in key))
            plain_line(self.console, f"step {step}/{total} · validation {scores}")
