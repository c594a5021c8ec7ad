"""Planning a tune checks everything before anything trains or is written: the budget against one trial's time,
the evaluations that pruning reads, the folder, a study's space; the trial count over all workers."""

from __future__ import annotations

import re

import optuna
import pytest
from optuna.trial import TrialState, create_trial

from seq2seq_adapters.config.schema import RunConfig
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import mark_as_written
from seq2seq_adapters.tuning.options import MAX_SEED
from seq2seq_adapters.tuning.space import load_space
from seq2seq_adapters.tuning.trials import ERROR, INTERRUPTED
from seq2seq_adapters.tuning.tune import (
    TUNE_RECORD,
    counted_trials,
    make_sampler,
    open_study,
    plan_tune,
    room_for_a_trial,
)


@pytest.fixture
def config(dialog_jsonl) -> RunConfig:
    return RunConfig.from_dict({"data": {"data": str(dialog_jsonl)}, "train": {"max_steps": 40}})


def space(tmp_path, config, text="space:\n  train.learning_rate: {choices: [0.002, 0.005]}\n"):
    (tmp_path / "space.yaml").write_text(text)
    return load_space(tmp_path / "space.yaml", config)


def test_the_plan_fills_in_evaluations_and_each_trials_share_of_the_budget(tmp_path, config):
    plan = plan_tune(config, space(tmp_path, config), tmp_path / "tune", budget="2h")
    assert plan.config.train.eval_steps == 10 and plan.trial_time_s == 1800 and plan.trials is None
    assert not plan.config.train.keep_best_checkpoint  # evaluations for the pruner only: the trial keeps its last step
    assert not (tmp_path / "tune").exists()  # nothing written by planning
    epochs = RunConfig.from_dict({"data": {"data": config.data.data}, "train": {"epochs": 2, "batch_size": 8}})
    assert plan_tune(epochs, space(tmp_path, epochs), tmp_path / "t2", trials=3).config.train.eval_steps == 4  # 2 epochs x ceil(57 / 8) steps / 4


def test_without_pruning_trials_are_not_evaluated_before_their_end(tmp_path, config):
    plan = plan_tune(config, space(tmp_path, config), tmp_path / "tune", trials=2, pruner="none")
    assert plan.config.train.eval_steps is None


@pytest.mark.parametrize(
    ("kwargs", "train", "message"),
    [
        ({}, {}, "give --trials N, --budget DURATION"),
        ({"trials": 0}, {}, "--trials must be at least 1"),
        ({"budget": "10m"}, {"max_time": "30m"}, "--budget 10m is less than one trial's time (train.max_time 30m)"),
        ({"budget": "soon"}, {}, "--budget: "),
        ({"trials": 2}, {"metric_for_best": "loss"}, "ranks and prunes trials by validation ROUGE"),
        ({"trials": 2}, {"eval_rouge_samples": 0, "metric_for_best": "loss"}, "ranks and prunes trials by validation ROUGE"),
        ({"trials": 2, "sampler": "cmaes"}, {}, "--sampler is one of tpe, random, grid"),
        ({"budget": "9" * 400 + "h"}, {}, "is longer than a year"),  # an infinite float: an OverflowError in the plan
        ({"budget": "3s"}, {}, "--budget 3s leaves each trial less than a second"),  # named train.max_time '0s'
        ({"trials": 2, "seed": -1}, {}, "--seed must be in [0, 4294967295]"),  # numpy's ValueError after the folder was made
        ({"trials": 2, "seed": 2**64}, {}, "--seed must be in [0, 4294967295]"),
    ],
)
def test_a_tune_that_cannot_run_is_one_line(tmp_path, config, kwargs, train, message):
    config = RunConfig.from_dict({**config.to_dict(), "train": {**config.to_dict()["train"], **train}})
    with pytest.raises(S2SAError, match=re.escape(message)):
        plan_tune(config, space(tmp_path, config), tmp_path / "tune", **kwargs)


def test_a_grid_over_a_range_is_refused(tmp_path, config):
    ranged = space(tmp_path, config, "space:\n  train.learning_rate: {low: 1.0e-3, high: 1.0e-2}\n")
    with pytest.raises(S2SAError, match="--sampler grid needs choices"):
        plan_tune(config, ranged, tmp_path / "tune", trials=2, sampler="grid")


def test_missing_data_is_named_before_any_trial(tmp_path, config):
    config.data.data = str(tmp_path / "nothing.jsonl")
    with pytest.raises(S2SAError, match="nothing.jsonl"):
        plan_tune(config, space(tmp_path, config), tmp_path / "tune", trials=2)


def test_a_folder_that_is_not_a_tune_is_refused(tmp_path, config):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(S2SAError, match="holds files that are not an s2sa tune's"):
        plan_tune(config, space(tmp_path, config), tmp_path / "mine", trials=2)
    (tmp_path / "file").write_text("x")
    with pytest.raises(S2SAError, match="is a file, not a folder"):
        plan_tune(config, space(tmp_path, config), tmp_path / "file", trials=2)


def test_a_tune_folder_continues_only_with_the_same_space_and_study(tmp_path, config):
    folder = tmp_path / "tune"
    folder.mkdir()
    mark_as_written(folder)
    plan = plan_tune(config, space(tmp_path, config), folder, trials=2)
    (folder / TUNE_RECORD).write_text(__import__("json").dumps(plan.record()))
    assert plan_tune(config, space(tmp_path, config), folder, trials=5).folder == folder  # more trials: the same study
    with pytest.raises(S2SAError, match="holds a tune with another search space"):
        plan_tune(config, space(tmp_path, config, "space:\n  train.learning_rate: {choices: [0.001, 0.005]}\n"), folder, trials=2)
    with pytest.raises(S2SAError, match="holds a tune with another study name"):
        plan_tune(config, space(tmp_path, config), folder, trials=2, study_name="other")


def test_a_shared_study_with_another_space_is_refused(tmp_path, config):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    open_study(plan_tune(config, space(tmp_path, config), tmp_path / "a", trials=2, storage=url, study_name="s"))
    other = space(tmp_path, config, "space:\n  train.learning_rate: {choices: [0.001, 0.005]}\n")
    with pytest.raises(S2SAError, match="study 's' in sqlite:///.*shared.db exists with another search space; choose another --study"):
        open_study(plan_tune(config, other, tmp_path / "b", trials=2, storage=url, study_name="s"))


def test_interrupted_trials_do_not_count_towards_trials():
    study = optuna.create_study()
    for state, attrs in [(TrialState.COMPLETE, {}), (TrialState.PRUNED, {}), (TrialState.FAIL, {ERROR: "nan"}),
                         (TrialState.FAIL, {INTERRUPTED: True}), (TrialState.FAIL, {})]:
        study.add_trial(create_trial(state=state, value=1.0 if state == TrialState.COMPLETE else None, user_attrs=attrs,
                                     intermediate_values={1: 0.0} if state == TrialState.PRUNED else None))
    assert counted_trials(study) == 3


def test_trials_other_workers_run_count_towards_trials(tmp_path, config):
    plan = plan_tune(config, space(tmp_path, config), tmp_path / "tune", trials=2)
    study = optuna.create_study()
    study.add_trial(create_trial(state=TrialState.COMPLETE, value=1.0))
    assert room_for_a_trial(plan, study, start=0.0)
    study.ask()  # another worker's trial, running
    assert not room_for_a_trial(plan, study, start=0.0)


def test_the_samplers_seed_stays_in_numpys_range(tmp_path, config):
    plan = plan_tune(config, space(tmp_path, config), tmp_path / "tune", trials=2, seed=MAX_SEED)
    make_sampler(plan, 5)  # MAX_SEED + 5 trials so far: wraps around instead of numpy's ValueError
