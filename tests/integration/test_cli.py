"""The CLI module in a fresh interpreter: importing it changes no process-wide setting."""

from __future__ import annotations

from conftest import run_python


def test_importing_the_cli_changes_no_warning_setting():
    code = ("import warnings\nbefore = (warnings.showwarning, list(warnings.filters))\nimport seq2seq_adapters.cli\n"
            "assert (warnings.showwarning, list(warnings.filters)) == before")
    result = run_python(["-c", code])
    assert result.returncode == 0, result.stderr[-2000:]
