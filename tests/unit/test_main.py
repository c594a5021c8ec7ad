"""`python -m seq2seq_adapters` is the `s2sa` command (run here in-process, as `python -m` runs it)."""

from __future__ import annotations

import runpy
import sys

import pytest


def run_module(monkeypatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["seq2seq_adapters", *args])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("seq2seq_adapters", run_name="__main__", alter_sys=True)
    return exit_.value.code


def test_it_runs_the_commands_under_the_name_s2sa(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "200")
    assert run_module(monkeypatch, "--help") == 0
    help_text = capsys.readouterr().out
    assert "Usage: s2sa [OPTIONS] COMMAND" in help_text
    assert all(command in help_text for command in ("train", "eval", "summarize", "export-adapter", "configs"))
    assert run_module(monkeypatch, "configs") == 0
    assert "dialogsum" in capsys.readouterr().out


def test_a_usage_error_names_s2sa_and_exits_2(monkeypatch, capsys):
    assert run_module(monkeypatch, "trian") == 2
    assert "see s2sa --help" in capsys.readouterr().err
