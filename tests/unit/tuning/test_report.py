"""The results of a tune, read from the study alone: one row per trial (a retried trial once, with its total time),
the best finished trial and its export command, Markdown and JSON, Optuna's two plots."""

from __future__ import annotations

import json

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from seq2seq_adapters.tuning.report import (
    HISTORY_PNG,
    IMPORTANCE_PNG,
    RESULTS_JSON,
    RESULTS_MD,
    best_row,
    importance_study,
    trial_rows,
    write_results,
)
from seq2seq_adapters.tuning.storage import RETRY
from seq2seq_adapters.tuning.trials import ERROR, INTERRUPTED, PRUNED_AT, ROUGE, RUN_DIR, SECONDS, STEPS

LR = {"train.learning_rate": CategoricalDistribution([0.002, 0.005, 0.01])}


def add(study, state, lr, value=None, **attrs):
    study.add_trial(create_trial(state=state, params={"train.learning_rate": lr}, distributions=LR, value=value,
                                 user_attrs=attrs, intermediate_values={3: 1.0} if state == TrialState.PRUNED else None))
    return study.get_trials()[-1]


def rouge(value):
    return {"rouge1": value + 5, "rouge2": value / 3, "rougeL": value, "rougeLsum": value}


@pytest.fixture
def study():
    study = optuna.create_study(direction="maximize", study_name="t")
    add(study, TrialState.COMPLETE, 0.005, 30.0, **{STEPS: 12, ROUGE: rouge(30.0), SECONDS: 50.0, RUN_DIR: "trials/trial-0000"})
    add(study, TrialState.PRUNED, 0.01, None, **{STEPS: 6, ROUGE: rouge(1.0), SECONDS: 20.0, PRUNED_AT: 6, RUN_DIR: "trials/trial-0001"})
    interrupted = add(study, TrialState.FAIL, 0.002, None, **{SECONDS: 30.0, INTERRUPTED: True, RUN_DIR: "trials/trial-0002"})
    RETRY(study, interrupted)  # queued again: the retry ends complete
    retry = study.get_trials()[-1]
    study._storage.set_trial_user_attr(retry._trial_id, SECONDS, 75.0)
    for key, value in {STEPS: 12, ROUGE: rouge(31.0), INTERRUPTED: False}.items():
        study._storage.set_trial_user_attr(retry._trial_id, key, value)
    study._storage.set_trial_state_values(retry._trial_id, TrialState.RUNNING)
    study._storage.set_trial_state_values(retry._trial_id, TrialState.COMPLETE, [31.0])
    add(study, TrialState.FAIL, 0.01, None, **{ERROR: "step 4: the loss is nan", SECONDS: 5.0, RUN_DIR: "trials/trial-0004"})
    return study


def test_a_retried_trial_is_one_row_under_its_first_number(study):
    rows = trial_rows(study)
    assert [(row.trial, row.state) for row in rows] == [(0, "complete"), (1, "pruned"), (2, "complete"), (4, "failed")]
    assert rows[2].seconds == 75.0 and rows[2].run_dir == "trials/trial-0002"
    assert rows[1].note == "pruned at step 6" and rows[3].note == "step 4: the loss is nan"
    assert best_row(rows).trial == 2


def test_an_interrupted_trial_not_yet_retried_says_so():
    study = optuna.create_study(direction="maximize")
    add(study, TrialState.FAIL, 0.002, None, **{INTERRUPTED: True})
    assert [(row.state, row.note) for row in trial_rows(study)] == [("interrupted", "continues at the next s2sa tune on this study")]
    assert best_row(trial_rows(study)) is None


def test_the_results_files_and_plots(study, tmp_path):
    write_results(study, tmp_path, "rougeLsum")
    markdown = (tmp_path / RESULTS_MD).read_text()
    assert "| trial | state | train.learning_rate | steps | rouge1 | rouge2 | rougeL | rougeLsum | time | note |" in markdown
    assert "| 2 | complete | 0.002 | 12 | 36.00 | 10.33 | 31.00 | 31.00 | 1.2 min |  |" in markdown
    assert f"s2sa export-adapter {tmp_path / 'trials' / 'trial-0002'} --output exports/trial-0002" in markdown  # named from the tune folder
    results = json.loads((tmp_path / RESULTS_JSON).read_text())
    assert results["best"]["trial"] == 2 and len(results["trials"]) == 4
    for plot in (HISTORY_PNG, IMPORTANCE_PNG):
        assert (tmp_path / plot).read_bytes().startswith(b"\x89PNG")


def test_importance_of_a_pruned_tune_is_measured_at_the_first_evaluation():
    """A pruned tune finishes one trial or none: importance then compares every trial where the pruner did."""
    study = optuna.create_study(direction="maximize")
    for state, lr, value, steps in [(TrialState.COMPLETE, 0.005, 30.0, {3: 20.0, 6: 25.0}), (TrialState.PRUNED, 0.01, None, {3: 1.0}),
                                    (TrialState.PRUNED, 0.002, None, {3: 5.0}), (TrialState.FAIL, 0.01, None, None)]:
        study.add_trial(create_trial(state=state, params={"train.learning_rate": lr}, distributions=LR, value=value, intermediate_values=steps))
    early, name = importance_study(study, "rougeLsum")
    assert name == "rougeLsum at step 3" and sorted(t.value for t in early.trials) == [1.0, 5.0, 20.0]
    study.add_trial(create_trial(params={"train.learning_rate": 0.002}, distributions=LR, value=28.0, intermediate_values={3: 19.0}))
    assert importance_study(study, "rougeLsum") == (study, "rougeLsum")  # half the trials finished: their final values
    assert importance_study(optuna.create_study(), "rougeLsum") is None
