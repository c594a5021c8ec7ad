"""Trials whose worker died: a worker on the same host fails them and queues each again (Optuna's retry), so the
retry continues the original's run folder; live workers, and workers on other hosts, are left alone."""

from __future__ import annotations

import subprocess
import sys
import warnings

import optuna
import pytest
from optuna.trial import TrialState

from seq2seq_adapters.tuning.workers import WORKER, is_gone, original_number, recover_dead_trials, this_worker


def dead_worker() -> dict:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return {**this_worker(), "pid": process.pid}


def test_this_process_lives_and_a_finished_one_is_gone():
    assert not is_gone(this_worker())
    assert is_gone(dead_worker())
    assert is_gone({**this_worker(), "started": 1.0})  # the pid lives, but it is another process now
    assert not is_gone({**dead_worker(), "host": "another-machine"})  # its heartbeat, if any, tells
    assert not is_gone(None)


@pytest.fixture
def study() -> optuna.Study:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield optuna.create_study(direction="maximize")


LEARNING_RATES = [0.002, 0.005]


def running_trial(study: optuna.Study, worker: dict, lr: float) -> optuna.Trial:
    study.enqueue_trial({"train.learning_rate": lr})
    trial = study.ask()
    trial.suggest_categorical("train.learning_rate", LEARNING_RATES)
    trial.set_user_attr(WORKER, worker)
    return trial


def test_the_trial_of_a_dead_worker_is_failed_and_queued_again(study):
    dead = running_trial(study, dead_worker(), 0.005)
    running_trial(study, this_worker(), 0.002)
    assert recover_dead_trials(study) == [dead.number]
    states = [t.state for t in study.get_trials()]
    assert states == [TrialState.FAIL, TrialState.RUNNING, TrialState.WAITING]
    retry = study.get_trials()[2]
    assert retry.params == {"train.learning_rate": 0.005} and original_number(retry) == dead.number
    assert recover_dead_trials(study) == []  # once
    again = study.ask()  # the queued retry comes first, with its settings
    assert again.suggest_categorical("train.learning_rate", LEARNING_RATES) == 0.005 and original_number(again) == dead.number
