"""Which worker runs a trial, and the trials of workers that died: failed and queued again (Optuna's retry).

A database storage finds dead workers by their heartbeats (storage.py); Optuna's journal file has none, so
each trial records its worker (host, pid, the process's start time), and a worker starting on the same host
fails the running trials of processes that are gone, then queues each again with Optuna's own
RetryHeartbeatStaleTrialCallback, so that the retry continues the trial's run folder. Uses two Optuna
privates, as Optuna's own `fail_stale_trials` does: `study._storage` and `FrozenTrial._trial_id`.
"""

from __future__ import annotations

import os
import socket

import optuna
import psutil
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from seq2seq_adapters.tuning.storage import RETRY, quiet_experimental

WORKER = "s2sa:worker"
"""Trial user attribute: {host, pid, started} of the process running it."""


def this_worker() -> dict[str, object]:
    """This process, as a trial records it."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": psutil.Process().create_time()}


def is_gone(worker: dict[str, object] | None) -> bool:
    """A worker on this host whose process no longer runs (a pid reused by another process counts as gone)."""
    if not worker or worker.get("host") != socket.gethostname():
        return False
    try:
        return psutil.Process(int(worker["pid"])).create_time() != worker.get("started")
    except (psutil.NoSuchProcess, psutil.ZombieProcess, ValueError, TypeError):
        return True


def retry(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue `trial` again with its settings; the retry knows its original (run_folder_number)."""
    RETRY(study, trial)


def original_number(trial: optuna.Trial | FrozenTrial) -> int:
    """The number of the first attempt of a trial (its own, unless it is a retry): it names the run folder."""
    with quiet_experimental():
        history = RetryHeartbeatStaleTrialCallback.retry_history(trial if isinstance(trial, FrozenTrial) else frozen(trial))
    return history[0] if history else trial.number


def frozen(trial: optuna.Trial) -> FrozenTrial:
    """The stored record of a running trial."""
    return trial.study._storage.get_trial(trial._trial_id)


def recover_dead_trials(study: optuna.Study) -> list[int]:
    """Fail the running trials whose worker on this host is gone and queue each again; their numbers."""
    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not is_gone(trial.user_attrs.get(WORKER)):
            continue
        try:
            study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:  # another worker got there first
            continue
        retry(study, trial)
        recovered.append(trial.number)
    return recovered
