"""A tune's results: one row per trial (its settings, steps, validation ROUGE, time, state, run folder) as
Markdown, JSON and a Rich table, Optuna's plots (optimisation history, parameter importance), and the best run
with the command that exports it. Read from the study alone, so `s2sa tune --report` works on any storage."""

from __future__ import annotations

import io
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
import optuna  # noqa: E402
from optuna.storages import RetryHeartbeatStaleTrialCallback  # noqa: E402
from optuna.trial import FrozenTrial, TrialState  # noqa: E402
from rich.markup import escape  # noqa: E402
from rich.table import Table  # noqa: E402

from seq2seq_adapters.core.files import atomic_write_bytes, atomic_write_json, atomic_write_text  # noqa: E402
from seq2seq_adapters.tuning.storage import quiet_experimental  # noqa: E402
from seq2seq_adapters.tuning.trials import ERROR, INTERRUPTED, PRUNED_AT, ROUGE, RUN_DIR, SECONDS, STEPS  # noqa: E402
from seq2seq_adapters.tuning.workers import original_number  # noqa: E402

RESULTS_MD, RESULTS_JSON = "results.md", "results.json"
HISTORY_PNG, IMPORTANCE_PNG = "optimization_history.png", "param_importances.png"
HEADLINE = ("rouge1", "rouge2", "rougeL", "rougeLsum")


@dataclass
class TrialRow:
    """One trial as the table shows it; a retried trial is one row (its last attempt, its total time)."""

    trial: int
    """The number of its first attempt, which names its run folder."""
    state: str
    settings: dict[str, Any]
    steps: int | None
    value: float | None
    rouge: dict[str, float] = field(default_factory=dict)
    seconds: float | None = None
    run_dir: str | None = None
    note: str = ""


def attempts_retried(trials: list[FrozenTrial]) -> set[int]:
    """Numbers of the attempts that a later retry continues (shown through that retry, not apart)."""
    with quiet_experimental():
        return {number for t in trials for number in RetryHeartbeatStaleTrialCallback.retry_history(t)}


def trial_rows(study: optuna.Study, folder: Path | None = None) -> list[TrialRow]:
    """The table's rows, by trial number; trials waiting in the queue are left out. `folder`: the tune folder the
    trials' run folders are named relative to (None: a study read from a database, named as recorded)."""
    trials = [t for t in study.get_trials(deepcopy=False) if t.state != TrialState.WAITING]
    retried = attempts_retried(trials)
    rows = [trial_row(t, original_number(t), folder) for t in trials if t.number not in retried]
    return sorted(rows, key=lambda row: row.trial)


def trial_row(trial: FrozenTrial, number: int, folder: Path | None = None) -> TrialRow:
    attrs = trial.user_attrs
    run_dir = attrs.get(RUN_DIR)
    state = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned", TrialState.RUNNING: "running"}.get(trial.state, "failed")
    note = ""
    if PRUNED_AT in attrs and trial.state == TrialState.PRUNED:
        note = f"pruned at step {attrs[PRUNED_AT]}"
    elif attrs.get(INTERRUPTED):
        state, note = "interrupted", "continues at the next s2sa tune on this study"
    elif trial.state == TrialState.FAIL:
        note = attrs.get(ERROR) or "its worker stopped; retried by the next worker"
    return TrialRow(number, state, dict(trial.params), attrs.get(STEPS), trial.value, attrs.get(ROUGE) or {}, attrs.get(SECONDS),
                    str(folder / run_dir) if folder is not None and run_dir else run_dir, note)


def best_row(rows: list[TrialRow]) -> TrialRow | None:
    """The finished trial with the highest validation score."""
    done = [row for row in rows if row.state == "complete" and row.value is not None]
    return max(done, key=lambda row: row.value) if done else None


def export_command(row: TrialRow) -> str:
    return f"s2sa export-adapter {row.run_dir} --output exports/trial-{row.trial:04d}"


def columns(rows: list[TrialRow]) -> list[str]:
    keys = sorted({key for row in rows for key in row.settings})
    return ["trial", "state", *keys, "steps", *HEADLINE, "time", "note"]


def cells(row: TrialRow, keys: list[str]) -> list[str]:
    number = lambda value: "" if value is None else f"{value:.2f}"  # noqa: E731
    time_text = "" if row.seconds is None else f"{row.seconds:.0f} s" if row.seconds < 60 else f"{row.seconds / 60:.1f} min"
    settings = [f"{row.settings[key]:.3g}" if isinstance(row.settings.get(key), float) else str(row.settings.get(key, "")) for key in keys]
    return [str(row.trial), row.state, *settings, "" if row.steps is None else str(row.steps), *(number(row.rouge.get(m)) for m in HEADLINE), time_text, row.note]


def results_markdown(rows: list[TrialRow], metric: str, title: str) -> str:
    """The table as Markdown, with the best trial and its export command."""
    header = columns(rows)
    keys = header[2:-7]
    lines = [f"# {title}", "", f"Validation ROUGE F1 x100 of each trial's run (the tune ranks trials by {metric}).", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in cells(row, keys)) + " |" for row in rows]
    if best := best_row(rows):
        lines += ["", f"Best: trial {best.trial} ({metric} {best.value:.2f}), run folder `{best.run_dir}`. Export it with:", "",
                  f"    {export_command(best)}"]
    return "\n".join(lines) + "\n"


def results_table(rows: list[TrialRow]) -> Table:
    """The table for the terminal."""
    header = columns(rows)
    table = Table(*header, box=None)
    for row in rows:
        table.add_row(*map(escape, cells(row, header[2:-7])))
    return table


def write_results(study: optuna.Study, folder: Path, metric: str) -> TrialRow | None:
    """results.md, results.json and the two plots into the tune folder; the best row."""
    rows = trial_rows(study, folder)
    best = best_row(rows)
    atomic_write_text(folder / RESULTS_MD, results_markdown(rows, metric, f"s2sa tune: {study.study_name}"))
    atomic_write_json(folder / RESULTS_JSON, {"study": study.study_name, "metric": metric, "trials": [asdict(row) for row in rows],
                                              "best": asdict(best) if best else None, "export": export_command(best) if best else None})
    write_plots(study, folder, metric)
    return best


def importance_study(study: optuna.Study, metric: str) -> tuple[optuna.Study, str] | None:
    """The trials parameter importance is measured on, and what their value is. A pruned tune finishes few trials:
    where fewer than half of the trials that reached the first evaluation step finished, importance is of every
    such trial's `metric` at that step (the one the pruner compares them at), as an in-memory study; else of the
    finished trials' final `metric`. None while fewer than two trials that differ can be compared."""
    trials = study.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state == TrialState.COMPLETE]
    first = min((step for t in trials for step in t.intermediate_values), default=None)
    reached = [t for t in trials if first in t.intermediate_values]
    if 2 * len(finished) >= len(reached):
        return (study, metric) if _settings_differ(finished) else None
    if not _settings_differ(reached):
        return None
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created in memory" line at each results write
    try:
        early = optuna.create_study(direction=study.direction)
    finally:
        optuna.logging.set_verbosity(verbosity)
    for t in reached:
        early.add_trial(optuna.trial.create_trial(params=t.params, distributions=t.distributions, value=t.intermediate_values[first]))
    return early, f"{metric} at step {first}"


def _settings_differ(trials: list[FrozenTrial]) -> bool:
    return len(trials) >= 2 and any(len({str(t.params.get(k)) for t in trials}) > 1 for k in trials[0].params)


def write_plots(study: optuna.Study, folder: Path, metric: str) -> None:
    """Optuna's optimisation history and parameter importance (see `importance_study`) as PNG files."""
    plots = {HISTORY_PNG: lambda: optuna.visualization.matplotlib.plot_optimization_history(study, target_name=metric)}
    if importance := importance_study(study, metric):
        plots[IMPORTANCE_PNG] = lambda: optuna.visualization.matplotlib.plot_param_importances(importance[0], target_name=importance[1])
    for name, plot in plots.items():
        with quiet_experimental():
            warnings.filterwarnings("ignore", "No artists with labels", UserWarning)  # no trial finished yet: an empty plot
            warnings.filterwarnings("ignore", "Target and region quantiles", UserWarning)  # few trials: equal importances, drawn so
            axes = plot()
        buffer = io.BytesIO()
        axes.figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        plt.close(axes.figure)
        atomic_write_bytes(folder / name, buffer.getvalue())
