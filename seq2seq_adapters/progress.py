"""Progress for tokenizing, training and generating: Rich bars on a terminal, plain lines otherwise
(a log file or a pipe gets one line per logging step / per ~10% of documents, not one frame at the end)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from transformers import TrainerCallback

LINE_SHARE = 0.1
"""Without a terminal, `tracked` prints a line each time another tenth of the items is done."""


def progress_bar(console: Console) -> Progress:
    """A bar with count, elapsed and remaining time, and a free `info` field."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
    )


def clock(seconds: float) -> str:
    """h:mm:ss, as the Rich bar shows time."""
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def plain_line(console: Console, text: str) -> None:
    """One unstyled line (no wrapping, no markup read from `text`)."""
    console.print(escape(text), highlight=False, soft_wrap=True)


@contextlib.contextmanager
def tracked(console: Console, description: str, total: int) -> Iterator[Callable[[int], None]]:
    """Show progress over `total` items; yields `advance(n)`. A bar on a terminal (filled on a clean exit),
    else a line every ~10% of the items with elapsed time and ETA."""
    if console.is_terminal:
        with progress_bar(console) as progress:
            task = progress.add_task(description, total=total, info="")
            yield lambda n: progress.advance(task, n)
            progress.update(task, completed=total)
        return
    start, done, next_line = time.perf_counter(), 0, LINE_SHARE * total

    def advance(n: int) -> None:
        nonlocal done, next_line
        done += n
        if done >= next_line or done == total:
            elapsed = time.perf_counter() - start
            eta = elapsed / done * (total - done) if done else 0.0
            plain_line(console, f"{description} {done}/{total} ({100 * done // max(total, 1)}%) · elapsed {clock(elapsed)} · ETA {clock(eta)}")
            while next_line <= done:
                next_line += LINE_SHARE * total

    yield advance


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
        total = self.planned_steps() or state.max_steps
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
