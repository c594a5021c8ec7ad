"""Shell completion is on: `s2sa --install-completion` / `--show-completion` (typer's)."""

from __future__ import annotations

from conftest import cli_env, run_cli


def test_shell_completion_is_on():
    result = run_cli(["--show-completion", "bash"], env={**cli_env(), "SHELL": "/bin/bash"})
    assert result.returncode == 0 and "_s2sa_completion" in result.stdout and "complete" in result.stdout
