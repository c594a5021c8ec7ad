"""A trial's pruning callback reports each evaluation's validation score to Optuna and stops training when the
pruner says so; a trial's run folder is named by its first attempt."""

from __future__ import annotations

from types import SimpleNamespace

import optuna

from seq2seq_adapters.tuning.trials import PruneOnValidation, run_folder


def evaluate(callback, step, value):
    control = SimpleNamespace(should_training_stop=False)
    callback.on_evaluate(None, SimpleNamespace(global_step=step), control, metrics={"eval_rougeLsum": value, "eval_loss": 3.0})
    return control.should_training_stop


def test_an_evaluation_below_the_earlier_trials_stops_training():
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=2, reduction_factor=3))
    good = PruneOnValidation(study.ask(), "rougeLsum")
    assert not evaluate(good, 2, 30.0) and good.pruned_at is None
    study.tell(good.trial, 31.0)
    bad = PruneOnValidation(study.ask(), "rougeLsum")
    assert evaluate(bad, 2, 5.0) and bad.pruned_at == 2
    assert bad.trial.study.get_trials()[1].intermediate_values == {2: 5.0}


def test_an_evaluation_without_the_metric_reports_nothing():
    study = optuna.create_study(direction="maximize")
    callback = PruneOnValidation(study.ask(), "rouge2")
    assert not evaluate(callback, 2, 30.0)
    assert study.get_trials()[0].intermediate_values == {}


def test_run_folders_are_numbered(tmp_path):
    assert run_folder(tmp_path, 7) == tmp_path / "trial-0007"
