"""`s2sa tune`'s own options (study name, seed, trial count, budget, sampler, pruner) checked without torch or Optuna: a
mistyped option is refused in a second, before the trials' training code is imported."""

from __future__ import annotations

from seq2seq_adapters.config.fields import shown
from seq2seq_adapters.config.value_rules import parse_duration
from seq2seq_adapters.core.errors import S2SAError

SAMPLERS, PRUNERS = ("tpe", "random", "grid"), ("halving", "hyperband", "none")
MAX_SEED = 2**32 - 1
"""The largest --seed: numpy's seeds (Optuna's samplers) are 32-bit; each sampler adds the trials so far, modulo 2**32."""
MAX_STUDY_NAME = 100
"""The longest --study: it names the default tune folder (runs/tune-<study>), which must fit a file name."""


def check_tune_options(*, seed: int, trials: int | None, budget: str | None, sampler: str, pruner: str) -> float | None:
    """One line for the first bad option; the budget in seconds (None without one)."""
    if not 0 <= seed <= MAX_SEED:
        raise S2SAError(f"--seed must be in [0, {MAX_SEED}] (numpy's seeds), got {shown(seed)}")
    if trials is None and budget is None:
        raise S2SAError("give --trials N, --budget DURATION (e.g. 2h), or both")
    if trials is not None and trials < 1:
        raise S2SAError(f"--trials must be at least 1, got {trials}")
    if sampler not in SAMPLERS or pruner not in PRUNERS:
        raise S2SAError(f"--sampler is one of {', '.join(SAMPLERS)} and --pruner one of {', '.join(PRUNERS)}")
    if budget is None:
        return None
    try:
        return parse_duration(budget)
    except S2SAError as exc:
        raise S2SAError(f"--budget: {exc}") from None


def check_study_name(name: str | None, names_folder: bool) -> None:
    """A --study name that a storage and the default tune folder (`names_folder`: runs/tune-<study>) can hold: not
    empty, one line, not too long, and when it names the folder, no path (`a/../../x` would place it elsewhere)."""
    if name is None:
        return
    if not name.strip() or not name.isprintable() or len(name) > MAX_STUDY_NAME:
        raise S2SAError(f"--study {shown(name)}: a study name is 1 to {MAX_STUDY_NAME} printable characters on one line")
    if names_folder and "/" in name:
        raise S2SAError(f"--study {shown(name)} would place the default tune folder runs/tune-{name} elsewhere; "
                        "give a plain name, or --output-dir")
