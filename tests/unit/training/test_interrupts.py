"""SIGINT/SIGTERM during training: the first asks for a checkpoint and a stop at the end of the step, a second
stops at once; the handlers are put back afterwards; the stop is a `stopped:` line with exit 130."""

from __future__ import annotations

import io
import signal
from types import SimpleNamespace

import pytest
from rich.console import Console
from transformers import TrainerControl

from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.training.interrupts import GracefulStop, TrainingInterrupted, stop_on_signals

ARGS = SimpleNamespace(device="cpu")


def test_the_first_signal_stops_after_the_step_with_a_checkpoint():
    stopper, console = GracefulStop(), io.StringIO()
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    with stop_on_signals(stopper, Console(file=console, width=200)):
        control = stopper.on_step_end(ARGS, None, TrainerControl())
        assert not control.should_save and not control.should_training_stop and not stopper.stopped
        signal.raise_signal(signal.SIGTERM)
        control = stopper.on_step_end(ARGS, None, TrainerControl())
    assert control.should_save and control.should_training_stop and stopper.stopped
    assert stopper.signal_name == "SIGTERM"
    assert "SIGTERM: finishing the current step and saving a checkpoint; send it again to stop at once" in console.getvalue()
    assert {number: signal.getsignal(number) for number in before} == before


def test_a_second_signal_stops_at_once_and_gives_the_handlers_back():
    stopper = GracefulStop()
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(KeyboardInterrupt):
        with stop_on_signals(stopper, Console(file=io.StringIO())):
            signal.raise_signal(signal.SIGINT)
            assert stopper.signal == signal.SIGINT
            signal.raise_signal(signal.SIGTERM)
            pytest.fail("the second signal did not stop the block")
    assert {number: signal.getsignal(number) for number in before} == before


def test_another_ranks_stop_stops_this_one_too(monkeypatch):
    """Each step the flag is OR-ed over the processes: every rank saves and stops after the same step."""
    monkeypatch.setattr("seq2seq_adapters.training.interrupts.any_process", lambda flags, device: [True])
    stopper = GracefulStop()
    control = stopper.on_step_end(ARGS, None, TrainerControl())
    assert control.should_training_stop and stopper.signal_name == "a stop signal on another rank"


def test_the_stop_is_a_stopped_line_with_exit_130():
    assert issubclass(TrainingInterrupted, S2SAError)
    assert (TrainingInterrupted.label, TrainingInterrupted.exit_code) == ("stopped", 130)
