"""One trial of a tune: an ordinary `s2sa train` run in `<tune folder>/trials/trial-NNNN`, pruned by Optuna on
its validation ROUGE at each evaluation, scored by the validation report it writes at its end.

A retried trial (its worker died or was interrupted) continues its original's run folder from the last
checkpoint, as `s2sa train --resume` would; what it measured is kept in the trial's user attributes, so the
table can be printed again from the storage alone (another machine's workers included).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from rich.console import Console
from rich.markup import escape
from transformers import TrainerCallback

from seq2seq_adapters.config.schema import RunConfig
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import DiskFull, read_json, written_by_s2sa
from seq2seq_adapters.layout.checkpoint_folder import last_complete_checkpoint
from seq2seq_adapters.layout.run_folder import RunDir
from seq2seq_adapters.training.interrupts import TrainingInterrupted
from seq2seq_adapters.training.recipe import train
from seq2seq_adapters.tuning.space import SearchSpace, trial_config
from seq2seq_adapters.tuning.workers import WORKER, frozen, original_number, retry, this_worker

TRIALS_DIR = "trials"
"""Inside the tune folder: one run folder per trial."""
RUN_DIR, STEPS, ROUGE, SECONDS, ERROR, PRUNED_AT, INTERRUPTED = (
    "s2sa:run_dir", "s2sa:steps", "s2sa:rouge", "s2sa:seconds", "s2sa:error", "s2sa:pruned_at", "s2sa:interrupted"
)
"""Trial user attributes: what the table reads (SECONDS: the trial's time over all its attempts; RUN_DIR: relative to
the tune folder, so a tune folder moved or copied still names its trials)."""


class TrialFailed(Exception):
    """A trial's own settings failed it (a non-finite loss, an adapter that does not fit the model): the tune goes
    on with the next trial; Optuna records this one as failed."""


def run_folder(trials_dir: Path, number: int) -> Path:
    return trials_dir / f"trial-{number:04d}"


class PruneOnValidation(TrainerCallback):
    """Report the validation score of each evaluation to Optuna; stop training when its pruner says so."""

    def __init__(self, trial: optuna.Trial, metric: str):
        self.trial, self.metric = trial, metric
        self.pruned_at: int | None = None

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        value = (metrics or {}).get(f"eval_{self.metric}")
        if value is None:
            return
        self.trial.report(value, state.global_step)
        if self.trial.should_prune():
            self.pruned_at = state.global_step
            control.should_training_stop = True


@dataclass
class TrialRunner:
    """The objective Optuna calls: builds the trial's run config from the tune's and runs it."""

    base: RunConfig
    space: SearchSpace
    trials_dir: Path
    console: Console
    trust_remote_code: bool = False

    @property
    def metric(self) -> str:
        return self.base.train.metric_for_best

    def __call__(self, trial: optuna.Trial) -> float:
        values = self.space.suggest(trial)
        folder = run_folder(self.trials_dir, original_number(trial))
        record = {WORKER: this_worker(), RUN_DIR: str(folder.relative_to(self.trials_dir.parent)), INTERRUPTED: False}
        for key, value in record.items():
            trial.set_user_attr(key, value)
        resume = folder if last_complete_checkpoint(folder) is not None else None
        config = trial_config(self.base, values, folder) if resume is None else None
        shown = ", ".join(f"{key}={value}" for key, value in values.items())
        self.console.print(f"[bold]trial {trial.number}[/] {'continues' if resume else 'starts'} in {escape(str(folder))}: {escape(shown)}",
                           highlight=False, soft_wrap=True)  # escaped: adapter strings such as lora[r=8] read as markup
        pruning = PruneOnValidation(trial, self.metric)
        earlier = frozen(trial).user_attrs.get(SECONDS, 0.0)  # a retry carries its earlier attempts' time
        start = time.perf_counter()
        try:
            result = train(config, resume=resume, overwrite=resume is None and folder.is_dir() and written_by_s2sa(folder),
                           console=self.console, callbacks=[pruning], trust_remote_code=self.trust_remote_code)
        except (TrainingInterrupted, KeyboardInterrupt):  # a signal mid-training, or while the trial set up
            trial.set_user_attr(INTERRUPTED, True)
            retry(trial.study, frozen(trial))  # the next `s2sa tune` on this study continues it first
            raise
        except DiskFull:
            raise
        except S2SAError as exc:
            trial.set_user_attr(ERROR, str(exc))
            raise TrialFailed(str(exc)) from None
        finally:
            trial.set_user_attr(SECONDS, round(earlier + time.perf_counter() - start, 1))
        trial.set_user_attr(STEPS, trained_steps(folder))
        trial.set_user_attr(ROUGE, result.rouge)
        if pruning.pruned_at is not None:
            trial.set_user_attr(PRUNED_AT, pruning.pruned_at)
            raise optuna.TrialPruned(f"pruned at step {pruning.pruned_at}")
        if self.metric not in result.rouge:
            raise TrialFailed(f"the run wrote no validation {self.metric}")
        return result.rouge[self.metric]


def trained_steps(folder: Path) -> int | None:
    """The steps a finished trial's run trained (its run.json)."""
    record: dict[str, Any] = read_json(RunDir(folder).record) or {}
    return record.get("global_step")
