"""The CLI in a process forked from a server that has already imported s2sa's command modules (and with them
torch, transformers, adapters, datasets, optuna): the same `python -m seq2seq_adapters` run, without paying
4 to 9 s of imports per call.

The integration suites start a few hundred CLI processes; those imports were most of their CPU time. The
engine is the standard library's forkserver (multiprocessing), with these modules preloaded. A forked run
differs from a fresh interpreter only in what those imports read from the environment, so `conftest.run_cli`
forks only for the default CLI environment (the one the server starts with), and starts a real interpreter for any other (a
test's own HF_HOME, a `torch` that cannot be imported). Whether torch is imported before a check is tested
with that stub, never here.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import runpy
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from unittest import mock

PRELOAD = [
    "forked_cli",
    *(f"seq2seq_adapters.{name}" for name in (
        "cli", "data.sources", "evaluation.compare", "evaluation.evaluate_run", "export.writer", "generation.summarize_documents",
        "layout.export_folder", "training.recipe", "tuning.report", "tuning.space", "tuning.tune",
    )),
]
"""Imported once by the server: the CLI and every module its commands import when they run, and with them
torch, transformers, adapters, datasets and optuna. A forked run finds them imported, as they would be
imported in a fresh interpreter with the same environment."""

_server_lock = threading.Lock()
_server_env: dict[str, str] | None = None


def _context(server_env: dict[str, str]) -> multiprocessing.context.ForkServerContext:
    """The forkserver context, its server started with `server_env` on first use (always the same one)."""
    global _server_env
    context = multiprocessing.get_context("forkserver")
    with _server_lock:
        if _server_env is None:
            context.set_forkserver_preload(PRELOAD)
            # the server inherits os.environ; Python 3.11's forkserver ignores the parent's sys.path, so it finds
            # this module through PYTHONPATH (forked runs get their own env)
            path = os.pathsep.join(filter(None, [str(Path(__file__).parent), server_env.get("PYTHONPATH")]))
            with mock.patch.dict(os.environ, {**server_env, "PYTHONPATH": path}, clear=True):
                multiprocessing.forkserver.ensure_running()
            _server_env = dict(server_env)
    assert server_env == _server_env, "one forkserver per process: always start it with the same environment"
    return context


def _exit_code(code: object) -> int:
    """What a Python interpreter exits with for `sys.exit(code)`."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _run(args: list[str], env: dict[str, str], cwd: str, stdout: str, stderr: str) -> None:
    """In the forked process: `python -m seq2seq_adapters ARGS` in `cwd` with `env`, output to the two files, then
    exit as the interpreter would (atexit handlers run, streams flushed)."""
    os.environ.clear()
    os.environ.update(env)
    for path, fd in ((stdout, 1), (stderr, 2)):
        target = os.open(path, os.O_WRONLY)
        os.dup2(target, fd)
        os.close(target)
    os.chdir(cwd)
    sys.argv = ["-m", *args]
    code = 0
    try:
        runpy.run_module("seq2seq_adapters", run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        code = _exit_code(stop.code)
    except BaseException:  # an uncaught exception: the interpreter prints it and exits 1
        traceback.print_exc()
        code = 1
    finally:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def run_forked(args: list[str], env: dict[str, str], cwd: Path, timeout: float, *, server_env: dict[str, str]) -> tuple[int, str, str] | None:
    """(exit code, stdout, stderr) of the CLI run in a process forked from the server started with `server_env`;
    None when `env` is another environment, which needs a fresh interpreter."""
    if env != server_env:
        return None
    context = _context(server_env)
    with tempfile.TemporaryDirectory(prefix="s2sa-forked-") as folder:
        out, err = Path(folder) / "stdout", Path(folder) / "stderr"
        out.touch()
        err.touch()
        process = context.Process(target=_run, args=(args, env, str(cwd), str(out), str(err)))
        process.start()
        process.join(timeout)
        if process.exitcode is None:
            process.kill()
            process.join()
            raise subprocess.TimeoutExpired(["s2sa", *args], timeout)
        return process.exitcode, out.read_text(), err.read_text()
