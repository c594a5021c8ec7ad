"""The test suites' CLI runner (forked_cli.py): a run forked from the preloaded server is the run a fresh
interpreter gives, and any other environment gets a fresh interpreter."""

from __future__ import annotations

from conftest import cli_env, run_python
from forked_cli import run_forked


def test_a_forked_run_gives_what_a_fresh_interpreter_gives(tmp_path):
    for args in (["train", "--learning-rate", "nan", "--output-dir", "out"], ["configs"], ["eval", "--help"]):
        forked = run_forked(args, cli_env(), tmp_path, timeout=120, server_env=cli_env())
        fresh = run_python(["-m", "seq2seq_adapters", *args], cwd=tmp_path)
        assert forked == (fresh.returncode, fresh.stdout, fresh.stderr)
    assert not (tmp_path / "out").exists()


def test_another_environment_gets_a_fresh_interpreter(tmp_path):
    """What the server's imports read from the environment (HF_HOME, a `torch` stub on PYTHONPATH) would be stale."""
    assert run_forked(["configs"], cli_env(HF_HOME=str(tmp_path)), tmp_path, timeout=60, server_env=cli_env()) is None


def test_what_the_test_process_sets_later_does_not_reach_the_cli(monkeypatch, tmp_path):
    """In-process tests and the libraries they run set variables (a launcher's RANK); the CLI's environment is
    the session's, so runs keep forking."""
    monkeypatch.setenv("RANK", "1")
    assert "RANK" not in cli_env() or cli_env()["RANK"] != "1"
    assert run_forked(["configs"], cli_env(), tmp_path, timeout=60, server_env=cli_env()) is not None
