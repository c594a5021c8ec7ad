"""The one user-facing error and warning: what the CLI makes of them (one line each, exit 1 for the error)."""

from __future__ import annotations

import warnings

import pytest
import typer

from seq2seq_adapters.cli import user_errors, warning_lines
from seq2seq_adapters.core.errors import S2SAError, S2SAWarning


def test_an_error_is_one_line_and_exit_1_whatever_its_text_holds(capsys):
    """Rich markup in a message (a path or a setting in brackets) is printed as written, not read as style."""
    with pytest.raises(typer.Exit) as exit_:
        with user_errors():
            raise S2SAError("--adapter-config 'lora[r=abc]' is not a valid adapters config: [bold]x[/bold]")
    assert exit_.value.exit_code == 1
    assert capsys.readouterr().err == "error: --adapter-config 'lora[r=abc]' is not a valid adapters config: [bold]x[/bold]\n"


def test_a_subclass_names_its_own_label_and_exit_code(capsys):
    """How `train` stops on a signal (training/interrupts.py): `stopped:` and exit 130, by the same one path."""

    class Stopped(S2SAError):
        label, exit_code = "stopped", 130

    with pytest.raises(typer.Exit) as exit_:
        with user_errors():
            raise Stopped("after step 4; resume with s2sa train --resume run")
    assert exit_.value.exit_code == 130
    assert capsys.readouterr().err == "stopped: after step 4; resume with s2sa train --resume run\n"


def test_other_exceptions_are_not_turned_into_error_lines():
    """A bug stays a traceback (only S2SAError is a user's problem)."""
    with pytest.raises(ValueError, match="a bug"):
        with user_errors():
            raise ValueError("a bug")


def test_a_warning_is_one_warning_line_without_file_and_line(capsys):
    """While a command runs (the CLI's warning_lines), S2SAWarning is one line."""
    assert issubclass(S2SAWarning, UserWarning)
    with warning_lines():
        warnings.simplefilter("always")
        warnings.warn("min_new_tokens 10 is above max_new_tokens 3 [saved]", S2SAWarning, stacklevel=1)
    assert capsys.readouterr().err == "warning: min_new_tokens 10 is above max_new_tokens 3 [saved]\n"
