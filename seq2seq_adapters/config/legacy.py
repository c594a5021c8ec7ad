"""Old saved settings read as today's: the one place that knows what older s2sa versions wrote and meant.

Settings change (a setting is added, flags become one setting, a check tightens), yet run folders and
exported adapters saved before must load and go on as they were trained: `--resume` continues an old run,
`eval`, `summarize` and `export-adapter` read an old artifact. Each function here turns one kind of old
mapping into today's, before the settings' own checks (config/schema.py) read it:

- the pre-`train` flags `full_finetune` / `freeze_new_weights` in any model section (YAML, `run_config.json`,
  `s2sa.json`);
- model settings a saved run lacks because they came later (`run_config.json`, old runs' `config.json`);
- a saved `min_new_tokens` above `max_new_tokens` (`run_config.json`, `s2sa.json`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from seq2seq_adapters.config.policy import FULL, LEGACY_DEFAULT
from seq2seq_adapters.core.errors import S2SAError, S2SAWarning

LEGACY_FLAGS = {"full_finetune": FULL, "freeze_new_weights": "adapter"}
"""Model settings of s2sa before `train` existed, and the policy each one stood for when true (false
meant the old default, `adapter,new`)."""

OLD_RUN_DEFAULTS = {"hidden_dropout": None, "encoder_marker_rows": "train"}
"""Model settings added after runs were saved, with what such runs did: the checkpoint's hidden dropout,
trained encoder marker rows."""


def upgrade_legacy_keys(model: dict) -> dict:
    """A model section with the pre-`train` flags (`full_finetune`, `freeze_new_weights`) as a `train` policy.

    Old runs and artifacts state both flags; a YAML file may state one. Naming them beside `train` is an error."""
    legacy = {key: model[key] for key in LEGACY_FLAGS if key in model}
    if not legacy:
        return model
    upgraded = {key: value for key, value in model.items() if key not in LEGACY_FLAGS}
    chosen = [LEGACY_FLAGS[key] for key, value in legacy.items() if value is True]
    if "train" in model:
        if chosen:
            names = " and ".join(key for key, value in legacy.items() if value is True)
            raise S2SAError(f"{names} and train both say which weights train; keep train only")
        return upgraded
    upgraded["train"] = FULL if FULL in chosen else (chosen[0] if chosen else LEGACY_DEFAULT)
    return upgraded


def saved_run_config(raw: dict[str, Any], path: Path) -> dict[str, Any]:
    """A saved run config (`run_config.json`, old runs' `config.json`) as today's: its model section with
    OLD_RUN_DEFAULTS, its generation section with `min_new_tokens` at most `max_new_tokens`."""
    saved = dict(raw)
    if "generation" in saved:
        saved["generation"] = saved_generation(saved["generation"], path)
    if "model" in saved:
        saved["model"] = saved_model(saved["model"])
    return saved


RETIRED_MODEL_KEYS = frozenset({"trust_remote_code"})
"""Model keys older runs saved that are no longer settings: letting checkpoints run their own code is a
permission of one command (`--trust-remote-code`, model/remote_code.py), never read from a file. Saved files
(run_config.json, s2sa.json) drop them; a YAML file or `section.key=value` that states them is refused."""


def retired_key_problem(source: str) -> str:
    """The refusal of `model.trust_remote_code` in a config file or a `section.key=value` setting."""
    return (
        f"{source}: model.trust_remote_code is not a setting (no file may let checkpoint code run); "
        "remove it and pass --trust-remote-code on the command line of the command that should run that code"
    )


def without_retired_keys(values: dict[str, Any]) -> dict[str, Any]:
    """A saved `model` mapping without RETIRED_MODEL_KEYS: whatever their value, they grant nothing."""
    return {key: value for key, value in values.items() if key not in RETIRED_MODEL_KEYS}


def saved_model(values: Any) -> Any:
    """A saved `model` mapping (run_config.json) with OLD_RUN_DEFAULTS where it lacks their keys:
    runs saved before a setting existed trained as its value there says, and a resumed run must go on so.
    RETIRED_MODEL_KEYS are dropped."""
    if isinstance(values, dict):
        return {**OLD_RUN_DEFAULTS, **without_retired_keys(values)}
    return values


def saved_generation(values: Any, source: str | Path) -> Any:
    """A saved `generation` mapping (run_config.json, s2sa.json) with `min_new_tokens` lowered to
    `max_new_tokens` where it is above it, with a warning.

    Older s2sa versions saved such runs (generate() then stopped at max_new_tokens, so lowering the minimum
    keeps their summaries) and users cannot edit what they exported; flags and YAML still refuse the pair
    (GenerationArgs.rules)."""
    if not isinstance(values, dict):
        return values
    low, high = values.get("min_new_tokens"), values.get("max_new_tokens")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) or low <= high:
        return values
    warnings.warn(
        f"{source}: generation.min_new_tokens {low} is above generation.max_new_tokens {high} (saved by an older s2sa); "
        f"using min_new_tokens {high}, as generating did then (--min-new-tokens chooses another)",
        S2SAWarning,
        stacklevel=2,
    )
    return {**values, "min_new_tokens": high}
