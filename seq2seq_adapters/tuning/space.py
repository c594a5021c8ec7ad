"""The search space of `s2sa tune`: which settings vary and over what, in YAML with the run configs'
`section.key` names, checked against the run config before anything trains (a bad value would otherwise fail
only in the trial that draws it, an hour in)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml

from seq2seq_adapters.config.fields import shown
from seq2seq_adapters.config.loading import parse_overrides
from seq2seq_adapters.config.schema import RunConfig, setting_fields
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import wrong_kind
from seq2seq_adapters.model.builder import parse_adapter_config

DEFAULT_SPACE = Path(__file__).parent / "default_space.yaml"
"""The shipped space (adapter families and sizes, learning rate on a log scale, the `train` policy)."""
PLACED_BY_TUNE = {"train.output_dir": "each trial's run folder is placed by s2sa tune (<tune folder>/trials/)"}
"""Settings a space may not vary, and why."""
RANGE_KEYS, CHOICE_KEYS = {"low", "high", "log"}, {"choices"}
MAX_CHOICES, MAX_FIRST = 1000, 1000
"""The most choices of one setting, and `first` trials: each is checked against the run config before anything
trains (about 2 ms each), and no tune runs more trials than that; 200,000 choices took minutes to refuse nothing."""


@dataclass(frozen=True)
class Dimension:
    """One setting that varies: a list of choices, or a range (`log`: sampled on a log scale)."""

    key: str
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False

    @property
    def integer(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int)

    def distribution(self) -> optuna.distributions.BaseDistribution:
        """Optuna's distribution for this setting (what the sampler draws from and the storage records)."""
        if self.choices is not None:
            return optuna.distributions.CategoricalDistribution(self.choices)
        if self.integer:
            return optuna.distributions.IntDistribution(int(self.low), int(self.high), log=self.log)
        return optuna.distributions.FloatDistribution(float(self.low), float(self.high), log=self.log)

    def suggest(self, trial: optuna.Trial) -> Any:
        """This trial's value (drawn by the sampler, or the one enqueued)."""
        if self.choices is not None:
            return trial.suggest_categorical(self.key, self.choices)
        if self.integer:
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.key, float(self.low), float(self.high), log=self.log)

    def contains(self, value: Any) -> bool:
        """Whether `value` is one of the choices, or a number inside the range."""
        if self.choices is not None:  # `true` is not the choice 1 (Python: True == 1)
            return any(value == choice and isinstance(value, bool) is isinstance(choice, bool) for choice in self.choices)
        return isinstance(value, (int, float)) and not isinstance(value, bool) and self.low <= value <= self.high

    def edges(self) -> list[Any]:
        """The values whose validity stands for all of them: every choice, or both ends of the range."""
        return list(self.choices) if self.choices is not None else [self.low, self.high]

    def to_dict(self) -> dict[str, Any]:
        return {"choices": list(self.choices)} if self.choices is not None else {"low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class SearchSpace:
    """The dimensions of a tune, and the trials to run first (`first`: {section.key: value}, e.g. the default)."""

    dimensions: tuple[Dimension, ...]
    first: tuple[dict[str, Any], ...] = ()

    def distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        return {d.key: d.distribution() for d in self.dimensions}

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """This trial's values, {section.key: value} (drawn by the sampler, or the enqueued ones)."""
        return {d.key: d.suggest(trial) for d in self.dimensions}

    def grid(self) -> dict[str, list[Any]]:
        """The grid of a grid search: every setting's choices (ranges have no grid)."""
        ranges = [d.key for d in self.dimensions if d.choices is None]
        if ranges:
            raise S2SAError(f"--sampler grid needs choices for every setting; {', '.join(ranges)} is a range (list its values as choices)")
        return {d.key: list(d.choices) for d in self.dimensions}

    def to_dict(self) -> dict[str, Any]:
        """The space as plain data: stored with the study, so a second worker with another space is refused."""
        return {"space": {d.key: d.to_dict() for d in self.dimensions}, "first": [dict(f) for f in self.first]}

    def fingerprint(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def trial_config(base: RunConfig, values: dict[str, Any], output_dir: Path | None = None) -> RunConfig:
    """The run config of a trial: the tune's config with the trial's values (and its run folder) set. A value is
    read as the same `section.key=value` override would read it (`model.leave_out: "0,1"` or `""`: a choice
    cannot be a list)."""
    raw = base.to_dict()
    fields = {f"{section}.{f.name}": f for section, f in setting_fields()}
    for key, value in values.items():
        section, name = key.split(".", 1)
        parse = fields[key].metadata.get("parse")
        raw[section][name] = parse(value) if parse is not None and isinstance(value, str) else value
    if output_dir is not None:
        raw["train"]["output_dir"] = str(output_dir)
    return RunConfig.from_dict(raw, source="tune space")


def load_space(path: str | Path | None, base: RunConfig) -> SearchSpace:
    """Read a space file (None: the shipped default) and check every key and value against `base`."""
    path = Path(path) if path is not None else DEFAULT_SPACE
    if problem := wrong_kind(path, want_folder=False):
        raise S2SAError(f"--space {path} {problem}")
    if not path.is_file():  # missing, or a FIFO or device that reading would block on or drain
        raise S2SAError(f"--space {path}: no such file" if not path.exists() else f"--space {path} is not a regular file")
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise S2SAError(f"--space {path} cannot be read: {exc.strerror}") from None
    except (yaml.YAMLError, ValueError, UnicodeDecodeError) as exc:
        raise S2SAError(f"--space {path} is not valid YAML: {str(exc).splitlines()[0][:200]}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("space"), dict) or not raw["space"]:
        raise S2SAError(f"--space {path} must hold a mapping `space:` of section.key settings (see s2sa tune --help)")
    if unknown := set(raw) - {"space", "first"}:
        raise S2SAError(f"--space {path}: unknown top-level key(s) {shown(sorted(map(str, unknown)))}; expected space and first")
    dimensions = tuple(read_dimension(path, key, spec) for key, spec in raw["space"].items())
    for dimension in dimensions:
        for value in dimension.edges():
            check_value(path, base, dimension.key, value)
    first = raw.get("first") or []
    if not isinstance(first, list) or not all(isinstance(item, dict) for item in first):
        raise S2SAError(f"--space {path}: `first` must be a list of mappings of section.key values")
    if len(first) > MAX_FIRST:
        raise S2SAError(f"--space {path}: `first` lists {len(first)} trials; at most {MAX_FIRST}")
    space = SearchSpace(dimensions, tuple(first))
    for item in first:
        check_first(path, space, item)
    return space


def read_dimension(path: Path, key: str, spec: Any) -> Dimension:
    """One `section.key: {choices: [...]}` or `{low:, high:, log:}` entry, its key checked like a dotted override."""
    where = f"--space {path}: {key}"
    if not isinstance(key, str) or "=" in key:
        raise S2SAError(f"--space {path}: {shown(key)} is not a section.key setting name")
    if key in PLACED_BY_TUNE:
        raise S2SAError(f"{where} cannot vary: {PLACED_BY_TUNE[key]}")
    try:
        parse_overrides([f"{key}="])  # the run config's own check of the name (with its did-you-mean)
    except S2SAError as exc:
        raise S2SAError(f"--space {path}: {str(exc).split(': ', 1)[1]}") from None
    if not isinstance(spec, dict) or not (set(spec) <= RANGE_KEYS or set(spec) == CHOICE_KEYS):
        raise S2SAError(f"{where} takes `choices: [...]` or `low:`, `high:` (and `log: true`); got {shown(spec)}")
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise S2SAError(f"{where}: choices must be a non-empty list")
        if len(choices) > MAX_CHOICES:
            raise S2SAError(f"{where}: {len(choices)} choices; at most {MAX_CHOICES} (use a range, low: and high:, for more values)")
        if not all(c is None or isinstance(c, (bool, int, float, str)) for c in choices):  # before printing any (an alias bomb)
            raise S2SAError(f"{where}: choices must be single values (text, numbers, true/false, null)")
        if len({json.dumps(c, sort_keys=True, default=str) for c in choices}) != len(choices):
            raise S2SAError(f"{where}: choices repeat a value")
        return Dimension(key, choices=tuple(choices))
    low, high, log = spec.get("low"), spec.get("high"), spec.get("log", False)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (low, high)):
        raise S2SAError(f"{where}: low and high must both be finite numbers (YAML reads 1e-3 as text: write 1.0e-3)")
    if not isinstance(log, bool):
        raise S2SAError(f"{where}: log must be true or false")
    if not low < high:
        raise S2SAError(f"{where}: the range [{low}, {high}] is empty; low must be below high (a single value belongs in the config)")
    if log and low <= 0:
        raise S2SAError(f"{where}: a log scale needs low > 0, got {low}")
    return Dimension(key, low=low, high=high, log=log)


def check_value(path: Path, base: RunConfig, key: str, value: Any) -> None:
    """A value the run config accepts for `key` on top of `base` (bounds, types, rules; adapter configs parsed)."""
    try:
        config = trial_config(base, {key: value})
        if key == "model.adapter_config":
            parse_adapter_config(config.model.adapter_config, [], (1, 1))
    except S2SAError as exc:
        raise S2SAError(f"--space {path}: {key}={shown(value)} is not a valid setting: {exc}") from None


def check_first(path: Path, space: SearchSpace, item: dict[str, Any]) -> None:
    """A `first` trial names only the space's settings, each with a value inside its dimension."""
    dimensions = {d.key: d for d in space.dimensions}
    if unknown := set(item) - set(dimensions):
        raise S2SAError(f"--space {path}: first trial sets {shown(sorted(map(str, unknown)))}, which the space does not vary")
    for key, value in item.items():
        if not dimensions[key].contains(value):
            raise S2SAError(f"--space {path}: first trial's {key}={shown(value)} lies outside the space")
