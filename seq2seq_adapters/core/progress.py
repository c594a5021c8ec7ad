"""Progress for tokenizing, training and generating: Rich bars on a terminal, plain lines otherwise
(a log file or a pipe gets one line per logging step / per ~10% of documents, not one frame at the end)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

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

