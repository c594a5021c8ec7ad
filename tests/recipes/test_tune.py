"""A tune on the tiny model, in this process: three trials, each an ordinary run folder; the worst is pruned on
validation ROUGE, the best is named with its export command; a second call on the folder adds nothing."""

from __future__ import annotations

import json
import shutil

from rich.console import Console
from tiny import tiny_tune_files

from seq2seq_adapters.config.loading import load_config
from seq2seq_adapters.layout.run_folder import RunDir
from seq2seq_adapters.tuning.report import HISTORY_PNG, IMPORTANCE_PNG, RESULTS_JSON, RESULTS_MD
from seq2seq_adapters.tuning.space import load_space
from seq2seq_adapters.tuning.tune import plan_tune, run_tune


def tiny_tune(config_file, space_file, folder, trials=3, **options):
    config = load_config(config_file)
    plan = plan_tune(config, load_space(space_file, config), folder, trials=trials, **options)
    return run_tune(plan, console=Console(stderr=True, quiet=True))


def test_three_trials_the_worst_pruned_each_an_ordinary_run(tiny_bert, dialog_jsonl, tmp_path):
    config_file, space_file = tiny_tune_files(tiny_bert, dialog_jsonl, tmp_path / "inputs")
    result = tiny_tune(config_file, space_file, tmp_path / "tune")
    rows = {row.settings["train.learning_rate"]: row for row in result.rows}
    assert result.trials == 3 and rows[0.01].state == "complete" and rows[0.01].value > 0
    assert rows[1.0e-7].state == "pruned" and rows[1.0e-7].steps < 12 and rows[1.0e-7].note.startswith("pruned at step")
    for row in result.rows:
        run = RunDir(tmp_path / "tune" / "trials" / f"trial-{row.trial:04d}")
        assert run.is_run() and json.loads(run.record.read_text())["config"]["train"]["learning_rate"] == row.settings["train.learning_rate"]
    results = json.loads((tmp_path / "tune" / RESULTS_JSON).read_text())
    assert results["best"]["trial"] == rows[0.01].trial
    assert results["export"] == f"s2sa export-adapter {tmp_path / 'tune' / 'trials' / 'trial-0000'} --output exports/trial-0000"
    assert "| 0 | complete | 0.01 | 12 |" in (tmp_path / "tune" / RESULTS_MD).read_text()
    assert (tmp_path / "tune" / HISTORY_PNG).is_file() and (tmp_path / "tune" / IMPORTANCE_PNG).is_file()  # at the first evaluation

    again = tiny_tune(config_file, space_file, tmp_path / "tune")  # the study has its three trials: nothing runs
    assert [(r.trial, r.state, r.value) for r in again.rows] == [(r.trial, r.state, r.value) for r in result.rows]

    shutil.move(tmp_path / "tune", tmp_path / "moved")  # a tune folder moved (or copied) names its own trials
    moved = tiny_tune(config_file, space_file, tmp_path / "moved")
    assert [r.run_dir for r in moved.rows] == [str(tmp_path / "moved" / "trials" / f"trial-{r.trial:04d}") for r in moved.rows]


def test_a_grid_runs_every_choice_once(tiny_bert, dialog_jsonl, tmp_path):
    config_file, space_file = tiny_tune_files(tiny_bert, dialog_jsonl, tmp_path / "inputs")
    result = tiny_tune(config_file, space_file, tmp_path / "tune", trials=10, sampler="grid", pruner="none")
    assert sorted(row.settings["train.learning_rate"] for row in result.rows) == [1.0e-7, 0.003, 0.01]  # then the grid is exhausted
    assert all(row.state == "complete" for row in result.rows)
