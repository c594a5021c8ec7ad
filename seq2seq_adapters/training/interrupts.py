"""Stop training cleanly on SIGINT/SIGTERM: finish the step, save a checkpoint, exit 130.

A second signal stops at once (the previous complete checkpoint stays loadable, see checkpoints.py).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from rich.console import Console
from rich.markup import escape
from transformers import TrainerCallback

from seq2seq_adapters.core.distributed import any_process
from seq2seq_adapters.core.errors import S2SAError

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(S2SAError):
    """Training stopped on a signal; the message says how to resume. The CLI exits with 130."""

    exit_code = 130
    label = "stopped"


class GracefulStop(TrainerCallback):
    """After a stop signal, save a checkpoint and stop at the end of the current optimizer step.

    Under several processes every rank stops after the same step (the flag is max-reduced each step).
    """

    def __init__(self) -> None:
        self.signal: int | None = None
        self.stopped = False

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signal).name if self.signal is not None else "a stop signal on another rank"

    def on_step_end(self, args, state, control, **kwargs):
        [stop] = any_process([self.signal is not None], args.device)
        if stop:
            self.stopped = True
            control.should_save = True
            control.should_training_stop = True
        return control


@contextlib.contextmanager
def stop_on_signals(stopper: GracefulStop, console: Console) -> Iterator[None]:
    """Route SIGINT/SIGTERM to `stopper` while the block runs (main thread only); restore handlers after.

    The first signal asks for a checkpoint and a stop at the next step end; a second one raises
    KeyboardInterrupt at once.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum, frame):
        if stopper.signal is not None:
            for number, handler in previous.items():
                signal.signal(number, handler)
            raise KeyboardInterrupt
        stopper.signal = signum
        console.print(
            f"[yellow]{escape(signal.Signals(signum).name)}: finishing the current step and saving a checkpoint; "
            "send it again to stop at once[/]",
            highlight=False,
        )

    previous = {number: signal.getsignal(number) or signal.SIG_DFL for number in STOP_SIGNALS}
    try:
        for number in STOP_SIGNALS:
            signal.signal(number, handle)
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
