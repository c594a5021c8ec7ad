"""`s2sa tune` through the real CLI: an interrupted tune (SIGINT, SIGKILL) continued by the same command ends with
the table of an uninterrupted one; two workers share one study (its journal file, SQLite, or a PostgreSQL server
started here when the Debian package is installed) and run no trial twice; bad input is one line and writes nothing."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import assert_one_line_error, finish, free_port, run_cli, run_slowed, start_slowed, wait_for
from tiny import tiny_tune_files

from seq2seq_adapters.layout.checkpoint_folder import CHECKPOINT_COMPLETE


@pytest.fixture(scope="module")
def inputs(tiny_bert, dialog_jsonl, tmp_path_factory) -> tuple[Path, Path]:
    return tiny_tune_files(tiny_bert, dialog_jsonl, tmp_path_factory.mktemp("tune-inputs"))


def tune_args(inputs: tuple[Path, Path], folder: Path, *extra: str, trials: int = 3) -> list[str]:
    return ["tune", "--config", str(inputs[0]), "--space", str(inputs[1]), "--trials", str(trials), "--output-dir", str(folder), *extra]


def table(folder: Path) -> list[dict]:
    """results.json's rows without their times (no two runs share those)."""
    rows = json.loads((folder / "results.json").read_text())["trials"]
    return [{key: value for key, value in row.items() if key not in ("seconds", "run_dir")} for row in rows]


@pytest.fixture(scope="module")
def uninterrupted(inputs, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("uninterrupted") / "tune"
    returncode, stderr = run_slowed(tune_args(inputs, folder))
    assert returncode == 0, stderr[-3000:]
    states = [row["state"] for row in table(folder)]
    assert states[0] == "complete" and states[2] == "pruned", table(folder)
    return folder


def second_trial_checkpointed(folder: Path):
    return lambda: (folder / "trials" / "trial-0001" / "checkpoints" / "checkpoint-3" / CHECKPOINT_COMPLETE).is_file()


@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_an_interrupted_tune_continues_to_the_same_table(inputs, uninterrupted, tmp_path, how):
    folder = tmp_path / "tune"
    process = start_slowed(tune_args(inputs, folder), step_delay=0.4)
    wait_for(second_trial_checkpointed(folder), process, "the second trial's first checkpoint")
    process.send_signal(signal.SIGINT) if how == "SIGINT" else process.kill()
    returncode, stderr = finish(process)
    if how == "SIGINT":
        assert returncode == 130 and "continue with the same s2sa tune command" in stderr, stderr[-3000:]
        assert [row["state"] for row in table(folder)] == ["complete", "interrupted"]
    else:
        assert returncode == -signal.SIGKILL
    returncode, stderr = run_slowed(tune_args(inputs, folder))
    assert returncode == 0, stderr[-3000:]
    assert "trial 3 continues in" in stderr  # the retry of trial 1, from its checkpoint
    if how == "SIGKILL":
        assert "trial 1: its worker is gone; it continues in this worker" in stderr
    assert table(folder) == table(uninterrupted)


def started_trials(stderr: str) -> set[int]:
    return {int(number) for number in re.findall(r"^trial (\d+) (?:starts|continues) in", stderr, flags=re.M)}


def two_workers(inputs: tuple[Path, Path], folders: list[Path], *extra: str) -> list[tuple[int, str]]:
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda folder: run_slowed(tune_args(inputs, folder, *extra, "--sampler", "random", trials=4)), folders))


def assert_no_trial_twice(results: list[tuple[int, str]], rows: list[dict]) -> None:
    assert all(code == 0 for code, _ in results), [stderr[-2000:] for _, stderr in results]
    first, second = (started_trials(stderr) for _, stderr in results)
    assert first and second and not first & second  # both worked, on different trials
    assert first | second == {row["trial"] for row in rows} and len(rows) >= 4


def test_two_workers_on_one_tune_folder_share_its_study(inputs, tmp_path):
    folder = tmp_path / "tune"
    results = two_workers(inputs, [folder, folder])
    assert_no_trial_twice(results, table(folder))


def test_two_workers_on_one_sqlite_storage(inputs, tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    results = two_workers(inputs, [tmp_path / "a", tmp_path / "b"], "--storage", url, "--study", "shared")
    returncode, stderr = run_slowed(["tune", "--report", url, "--study", "shared"])
    assert returncode == 0, stderr
    assert_no_trial_twice(results, json.loads((tmp_path / "b" / "results.json").read_text())["trials"])


POSTGRES_BIN = Path("/usr/lib/postgresql")


@pytest.fixture
def postgres():
    """A PostgreSQL server of the Debian package, started as the postgres user on a free port (skipped without the
    package: it is a system package, not a Python one). Its folder is outside pytest's, which only root may enter."""
    binaries = sorted(POSTGRES_BIN.glob("*/bin"))
    if not binaries or shutil.which("runuser") is None:
        pytest.skip("PostgreSQL (Debian's postgresql package) is not installed")
    pytest.importorskip("psycopg")
    data, port = Path(tempfile.mkdtemp(prefix="s2sa-postgres-")), free_port()
    shutil.chown(data, "postgres")
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_postgres, str(binaries[-1] / "initdb"), "-D", str(data), "-A", "trust"], check=True, capture_output=True)
    subprocess.run([*as_postgres, str(binaries[-1] / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-o", f"-p {port} -k {data}",
                    "-w", "start"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # the server keeps no pipe of ours open
    yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    subprocess.run([*as_postgres, str(binaries[-1] / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
    shutil.rmtree(data)


def test_two_workers_on_one_postgresql_storage(inputs, tmp_path, postgres):
    results = two_workers(inputs, [tmp_path / "a", tmp_path / "b"], "--storage", postgres, "--study", "shared")
    assert_no_trial_twice(results, json.loads((tmp_path / "b" / "results.json").read_text())["trials"])


@pytest.mark.parametrize(
    ("space", "extra", "message"),
    [
        ("space:\n  train.learnig_rate: {choices: [0.1]}\n", [], "did you mean train.learning_rate?"),
        ("space:\n  train.learning_rate: {low: 0.01, high: 0.001}\n", [], "the range [0.01, 0.001] is empty"),
        (None, ["--budget", "1m", "train.max_time=5m"], "--budget 1m is less than one trial's time"),
        (None, ["--storage", "mysql://me:pw@127.0.0.1:9/db"], "needs the MySQLdb driver: pip install mysqlclient"),
        (None, ["--storage", "sqlite:////no/such/folder/x.db"], "cannot be reached"),
        (None, ["--storage", "sqlite://"], "is a database in memory"),  # the 2026-12-07 sweep's findings, below
        (None, ["--budget", "9" * 400 + "h"], "is longer than a year"),
        (None, ["--budget", "3s"], "--budget 3s leaves each trial less than a second"),
        (None, ["--seed", "-1"], "--seed must be in [0, 4294967295]"),
        (None, ["--study", ""], "a study name is 1 to 100 printable characters"),
        ("space:\n  train.seed: {choices: [" + ",".join(map(str, range(5000))) + "]}\n", [], "5000 choices; at most 1000"),
        ("space:\n  train.learning_rate: {choices: [&a [x, x], &b [*a, *a], [*b, *b]]}\n", [], "choices must be single values"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(inputs, tmp_path, space, extra, message):
    space_file = inputs[1]
    if space is not None:
        space_file = tmp_path / "space.yaml"
        space_file.write_text(space)
    result = run_cli(["tune", "--config", str(inputs[0]), "--space", str(space_file), "--trials", "2", "--output-dir", str(tmp_path / "tune"), *extra])
    assert_one_line_error(result, message)
    assert not (tmp_path / "tune").exists()
