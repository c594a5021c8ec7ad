"""Rich progress bars shared by tokenizing, training and generating."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


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


@contextlib.contextmanager
def tracked(console: Console, description: str, total: int) -> Iterator[Callable[[int], None]]:
    """Show a bar for `total` items; yields `advance(n)`. The bar is filled on a clean exit."""
    with progress_bar(console) as progress:
        task = progress.add_task(description, total=total, info="")
        yield lambda n: progress.advance(task, n)
        progress.update(task, completed=total)
