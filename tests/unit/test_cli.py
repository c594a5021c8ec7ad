"""The CLI changes the process only while a command runs, and `eval --compare` refuses the options the user gave."""

from __future__ import annotations

import sys
import types
import warnings

from conftest import run_python
from typer.testing import CliRunner

from seq2seq_adapters.cli import app
from seq2seq_adapters.core.errors import S2SAWarning


def test_importing_the_cli_changes_no_warning_setting():
    code = ("import warnings\nbefore = (warnings.showwarning, list(warnings.filters))\nimport seq2seq_adapters.cli\n"
            "assert (warnings.showwarning, list(warnings.filters)) == before")
    result = run_python(["-c", code])
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_command_prints_our_warnings_as_one_line_and_restores_the_hook(monkeypatch, tmp_path):
    def fake_train(config, **kwargs):
        warnings.warn("something to know", S2SAWarning)
        return types.SimpleNamespace(output_dir=config.train.output_dir)

    monkeypatch.setitem(sys.modules, "seq2seq_adapters.training.recipe", types.SimpleNamespace(train=fake_train))
    before = (warnings.showwarning, list(warnings.filters))
    result = CliRunner().invoke(app, ["train", "--output-dir", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert [line for line in result.output.splitlines() if "something to know" in line] == ["warning: something to know"]
    assert (warnings.showwarning, list(warnings.filters)) == before


def test_compare_names_the_options_given_that_it_does_not_read(monkeypatch):
    compared = []
    monkeypatch.setattr("seq2seq_adapters.evaluation.compare.compare_runs", lambda *args, **kwargs: compared.append(args))
    args = ["eval", "a", "b", "--compare", "--num-beams", "3", "--max-samples", "2", "--overwrite", "--split", "validation", "--text-column", "t"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and not compared
    assert "--compare reads existing reports; --max-samples, --text-column, --overwrite, --num-beams do not apply" in result.output
    result = CliRunner().invoke(app, ["eval", "a", "b", "--compare", "--split", "validation", "--markdown", "table.md"])
    assert result.exit_code == 0, result.output
    assert len(compared) == 1
