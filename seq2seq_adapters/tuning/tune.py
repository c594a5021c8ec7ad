"""`s2sa tune`: plan (every check, before anything trains) -> run trials on an Optuna study until the trial count
or the time budget is reached -> write the results. Optuna does the sampling, pruning, storage and the sharing
between workers: a second `s2sa tune` on the same folder or storage joins the study, and one started after an
interruption continues it (finished trials kept, the interrupted one resumed from its checkpoint).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.trial import TrialState
from rich.console import Console
from rich.markup import escape

from seq2seq_adapters.config.schema import RunConfig
from seq2seq_adapters.core.distributed import world_size
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import (
    atomic_write_json,
    check_creatable,
    folder_contents,
    mark_as_written,
    output_path,
    refuse_special,
    written_by_s2sa,
    wrong_kind,
)
from seq2seq_adapters.data.dataset import load_summarization_data
from seq2seq_adapters.training.interrupts import TrainingInterrupted
from seq2seq_adapters.tuning.options import MAX_SEED, check_tune_options
from seq2seq_adapters.tuning.report import TrialRow, trial_rows, write_results
from seq2seq_adapters.tuning.space import SearchSpace, trial_config
from seq2seq_adapters.tuning.storage import (
    JOURNAL_FILE,
    damaged_journal,
    is_url,
    open_storage,
    quiet_experimental,
    shown_url,
    sqlite_file,
)
from seq2seq_adapters.tuning.trials import ERROR, INTERRUPTED, TRIALS_DIR, TrialFailed, TrialRunner
from seq2seq_adapters.tuning.workers import recover_dead_trials

TUNE_RECORD = "tune.json"
"""In the tune folder: the study's storage and name, the space and the run config (what a joining worker must repeat)."""
DEFAULT_STUDY = "s2sa-tune"
TRIALS_PER_BUDGET = 4
"""Without `train.max_time`, each trial may take a quarter of `--budget`: at least four trials, more where
pruning stops some early."""
EVALUATIONS_PER_TRIAL = 4
"""Without `train.eval_steps`, a trial is evaluated (and may be pruned) four times, and keeps its last step as
`s2sa train` without evaluations does (`keep_best_checkpoint: false`: the best of four greedy scores on a small
validation subset is noise); with `--pruner none` never before its end (its final validation report scores it)."""
TPE_STARTUP_TRIALS = 4
"""Random trials before TPE models the results (Optuna's 10 is more than a CPU budget runs)."""


@dataclass
class TunePlan:
    """A checked tune: what `run_tune` needs, nothing written yet."""

    config: RunConfig
    """The run config every trial starts from (eval_steps and max_time filled in)."""
    space: SearchSpace
    folder: Path
    study_name: str
    storage: str | None
    """A database URL; None: the journal file in the folder."""
    trials: int | None
    budget_s: float | None
    sampler: str = "tpe"
    pruner: str = "halving"
    seed: int = 0

    @property
    def trial_time_s(self) -> float | None:
        return self.config.train.max_time_s

    def record(self) -> dict:
        """tune.json: what identifies the study (a second worker must name the same), as JSON reads it back."""
        return json.loads(json.dumps({"study": self.study_name, "storage": shown_url(self.storage) if self.storage else None,
                                      "space": self.space.to_dict(), "config": comparable(self.config)}, default=str))


def same(a: object, b: object) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def comparable(config: RunConfig) -> dict:
    """The run config as a joining worker must repeat it (its output folder is the tune's business)."""
    raw = config.to_dict()
    raw["train"].pop("output_dir")
    return raw


def plan_tune(config: RunConfig, space: SearchSpace, folder: Path, *, study_name: str | None = None, storage: str | None = None,
              trials: int | None = None, budget: str | None = None, sampler: str = "tpe", pruner: str = "halving", seed: int = 0) -> TunePlan:
    """Check everything a tune needs before anything trains or is written: the folder, the budget against one
    trial's time, the evaluations pruning reads, the sampler and pruner, the data."""
    folder = output_path(folder)
    check_tune_folder(folder)
    budget_s = check_tune_options(seed=seed, trials=trials, budget=budget, sampler=sampler, pruner=pruner)
    if sampler == "grid":
        space.grid()
    if world_size() > 1:
        raise S2SAError("s2sa tune runs one trial per process; start several workers on one study instead of torchrun")
    t = config.train
    if t.metric_for_best == "loss" or t.eval_rouge_samples == 0:
        raise S2SAError("s2sa tune ranks and prunes trials by validation ROUGE: set train.metric_for_best to a ROUGE score and train.eval_rouge_samples > 0")
    data = load_summarization_data(config.data, seed=t.seed)  # a data mistake is one line now, not in every trial
    filled: dict[str, object] = {}  # train settings the tune fills in
    if t.eval_steps is None and pruner != "none":  # the pruner's evaluations, only watched: the trial keeps its last step
        filled["train.eval_steps"] = max(1, planned_steps(config, len(data.splits["train"])) // EVALUATIONS_PER_TRIAL)
        filled["train.keep_best_checkpoint"] = False
    if t.max_time is None and budget_s is not None:
        if budget_s < TRIALS_PER_BUDGET:
            raise S2SAError(f"--budget {budget} leaves each trial less than a second (a {TRIALS_PER_BUDGET}th of it, "
                            "the default train.max_time); raise the budget or set train.max_time")
        filled["train.max_time"] = f"{math.floor(budget_s / TRIALS_PER_BUDGET)}s"
    config = trial_config(config, filled)
    if budget_s is not None and config.train.max_time_s > budget_s:
        raise S2SAError(f"--budget {budget} is less than one trial's time (train.max_time {config.train.max_time}); raise the budget or lower train.max_time")
    plan = TunePlan(config, space, folder, study_name or DEFAULT_STUDY, storage, trials, budget_s, sampler, pruner, seed)
    check_same_study(plan)
    if storage is not None or (folder / JOURNAL_FILE).is_file():
        open_storage(storage, folder)  # reachable, with its driver, or a journal that reads: before anything is written
    return plan


def planned_steps(config: RunConfig, train_examples: int) -> int:
    """The optimizer steps a trial plans: max_steps, else its epochs over the training data."""
    t = config.train
    if t.max_steps > 0:
        return t.max_steps
    return max(1, math.ceil(t.epochs * math.ceil(train_examples / (t.batch_size * t.grad_accum))))


def check_tune_folder(folder: Path) -> None:
    """A new folder, an empty one, or a tune folder s2sa wrote (joined or continued); nothing else. Its trials/ is
    a folder, not a file or a link put in its place (trials would fail one by one, or be written elsewhere)."""
    check_creatable(folder, "--output-dir")
    refuse_special(folder, "--output-dir", "folders it creates")
    if folder.exists() and not folder.is_dir():
        raise S2SAError(f"--output-dir {folder} is a file, not a folder")
    if folder.is_dir() and folder_contents(folder) and not (written_by_s2sa(folder) and (folder / TUNE_RECORD).is_file()):
        raise S2SAError(f"--output-dir {folder} holds files that are not an s2sa tune's; choose another folder")
    trials = folder / TRIALS_DIR
    refuse_special(trials, "--output-dir's", "folders it creates")
    if problem := wrong_kind(trials, want_folder=True):
        raise S2SAError(f"--output-dir's {trials} {problem}; s2sa tune keeps its trials' run folders there")


def read_tune_record(folder: Path) -> dict | None:
    """The folder's tune.json, None when it has none; a damaged or edited one is refused naming it (it used to be
    taken for a missing one: the tune went on beside it, and --report said the folder was no tune)."""
    path = folder / TUNE_RECORD
    if not path.exists() and not path.is_symlink():
        return None
    refuse_special(path, None)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise S2SAError(f"{path} is damaged: {str(exc).splitlines()[0][:200]}; restore it, or start a new tune in another folder") from None
    problems = []
    if not isinstance(record, dict):
        problems.append("not a JSON object")
    else:
        if not isinstance(record.get("study"), str) or not record["study"]:
            problems.append("no study name")
        if not (record.get("storage") is None or isinstance(record["storage"], str)):
            problems.append("storage is not a URL")
        problems += [f"no {key}" for key in ("space", "config") if not isinstance(record.get(key), dict)]
    if problems:
        raise S2SAError(f"{path} is damaged: {', '.join(problems)}; restore it, or start a new tune in another folder")
    return record


def check_same_study(plan: TunePlan) -> None:
    """A folder tuned before continues only with the same study, space and config (else its table would mix
    two questions)."""
    record = read_tune_record(plan.folder)
    if record is None:
        return
    mine = plan.record()
    for key, what in (("study", "study name (--study)"), ("storage", "storage (--storage)"), ("space", "search space (--space)"), ("config", "run config")):
        if not same(record.get(key), mine[key]):
            raise S2SAError(f"--output-dir {plan.folder} holds a tune with another {what}; repeat its command, or choose another --output-dir")


def open_study(plan: TunePlan) -> optuna.Study:
    """Create the study, or load it (a second worker, a continued tune); one whose space or config differ is refused."""
    storage = open_storage(plan.storage, plan.folder)
    with damaged_journal(plan.folder / JOURNAL_FILE):
        study = optuna.create_study(storage=storage, study_name=plan.study_name, direction="maximize", load_if_exists=True,
                                    sampler=make_sampler(plan, 0), pruner=make_pruner(plan))
    mine = plan.record()
    for key in ("space", "config"):
        stored = study.user_attrs.get(f"s2sa:{key}")
        if stored is None:
            study.set_user_attr(f"s2sa:{key}", mine[key])
        elif not same(stored, mine[key]):
            raise S2SAError(f"study {plan.study_name!r} in {shown_url(plan.storage) if plan.storage else plan.folder} exists with another "
                            f"{'search space' if key == 'space' else 'run config'}; choose another --study")
    study.sampler = make_sampler(plan, len(study.get_trials(deepcopy=False)))
    return study


def make_sampler(plan: TunePlan, offset: int) -> optuna.samplers.BaseSampler:
    """The sampler, seeded by the tune's seed and the trials the study holds (a continued tune draws anew, not
    the first draws again)."""
    seed = (plan.seed + offset) % (MAX_SEED + 1)
    if plan.sampler == "grid":
        return optuna.samplers.GridSampler(plan.space.grid(), seed=seed)
    if plan.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=TPE_STARTUP_TRIALS)


def make_pruner(plan: TunePlan) -> optuna.pruners.BasePruner:
    """Successive halving (or Hyperband) with the first evaluation as the smallest resource; or none."""
    eval_steps = plan.config.train.eval_steps
    if plan.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=eval_steps, reduction_factor=3)
    if plan.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=eval_steps, reduction_factor=3)
    return optuna.pruners.NopPruner()


def running_trials(study: optuna.Study) -> int:
    """Trials other workers are running: each will count towards --trials when it ends."""
    return len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))


def counted_trials(study: optuna.Study) -> int:
    """Trials that count towards --trials: finished, pruned, or failed by their own settings (not interrupted ones,
    which are continued)."""
    return sum(
        t.state in (TrialState.COMPLETE, TrialState.PRUNED) or (t.state == TrialState.FAIL and ERROR in t.user_attrs and not t.user_attrs.get(INTERRUPTED))
        for t in study.get_trials(deepcopy=False)
    )


@dataclass
class TuneResult:
    folder: Path
    rows: list[TrialRow]
    trials: int
    """Trials counted towards --trials, over all workers."""


def run_tune(plan: TunePlan, console: Console | None = None, trust_remote_code: bool = False) -> TuneResult:
    """Run trials until --trials are done (by all workers), the budget has no room for another, or a grid is
    exhausted; the results are rewritten after every trial."""
    console = console or Console(stderr=True)
    start = time.monotonic()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a failed trial is one line of announce's, not Optuna's traceback
    plan.folder.mkdir(parents=True, exist_ok=True)
    mark_as_written(plan.folder)
    study = open_study(plan)
    if not (plan.folder / TUNE_RECORD).is_file():
        atomic_write_json(plan.folder / TUNE_RECORD, plan.record())
    for number in recover_dead_trials(study):
        console.print(f"trial {number}: its worker is gone; it continues in this worker", highlight=False)
    runner = TrialRunner(plan.config, plan.space, plan.folder / TRIALS_DIR, console, trust_remote_code)
    metric = plan.config.train.metric_for_best
    if plan.sampler != "grid" and not study.get_trials(deepcopy=False):  # a grid runs every combination anyway (and
        for values in plan.space.first:  # Optuna 5.0's GridSampler fails on a queued trial: KeyError 'grid_id')
            study.enqueue_trial(values, skip_if_exists=True)
    try:
        while room_for_a_trial(plan, study, start):
            with quiet_experimental():
                study.optimize(runner, n_trials=1, catch=(TrialFailed,), gc_after_trial=True, callbacks=[announce(console, metric)])
            write_results(study, plan.folder, metric)
    except (TrainingInterrupted, KeyboardInterrupt) as exc:
        write_results(study, plan.folder, metric)
        signal_name = str(exc).split(" ", 1)[0] if str(exc).startswith("SIG") else "SIGINT"
        raise TrainingInterrupted(f"tune interrupted ({signal_name}): the running trial keeps its last checkpoint and continues first; "
                                  f"the trials so far are in {plan.folder / 'results.md'}; continue with the same s2sa tune command") from None
    write_results(study, plan.folder, metric)
    return TuneResult(plan.folder, trial_rows(study, plan.folder), counted_trials(study))


def announce(console: Console, metric: str):
    """A line when a trial ends: its state and score."""

    def line(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        score = f"validation {metric} {trial.value:.2f}" if trial.value is not None else trial.user_attrs.get(ERROR, "")
        console.print(f"[bold]trial {trial.number}[/] {trial.state.name.lower()}: {escape(score)}", highlight=False, soft_wrap=True)

    return line


def room_for_a_trial(plan: TunePlan, study: optuna.Study, start: float) -> bool:
    """Whether another trial starts: trials left to run beside those other workers run (else the first worker done
    starts trials past --trials), time left for a whole one, grid points left."""
    if plan.trials is not None and counted_trials(study) + running_trials(study) >= plan.trials:
        return False
    if plan.budget_s is not None and time.monotonic() - start + plan.trial_time_s > plan.budget_s:
        return False
    if isinstance(study.sampler, optuna.samplers.GridSampler) and study.sampler.is_exhausted(study):
        return False
    return True


def study_of(target: str, study_name: str | None) -> optuna.Study:
    """The study `s2sa tune --report` names: a tune folder (its journal), or a database URL with --study."""
    folder = Path(target)
    if folder.is_dir():
        record = read_tune_record(folder)
        if record is None:
            raise S2SAError(f"--report {target} is not a tune folder (no {TUNE_RECORD}); give a tune folder or a storage URL")
        if record.get("storage"):
            raise S2SAError(f"--report {target}: its study is in {record['storage']}; give --report URL --study {record['study']}")
        if not (folder / JOURNAL_FILE).is_file():  # opening a missing journal would create it: --report writes nothing
            raise S2SAError(f"--report {target} has no {JOURNAL_FILE} (its study); restore it from a copy of the tune folder")
        storage, study_name = open_storage(None, folder), study_name or record["study"]
    elif is_url(target):
        if (database := sqlite_file(target)) and not Path(database).is_file():  # opening it would create it
            raise S2SAError(f"--report {shown_url(target)}: no database file {database}")
        storage, study_name = open_storage(target, folder), study_name or DEFAULT_STUDY
    else:
        raise S2SAError(f"--report {target} is neither a tune folder nor a storage URL")
    try:
        with damaged_journal(folder / JOURNAL_FILE):
            return optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        names = optuna.get_all_study_names(storage)
        raise S2SAError(f"--report {target}: no study {study_name!r}; studies there: {', '.join(names) or 'none'}") from None
