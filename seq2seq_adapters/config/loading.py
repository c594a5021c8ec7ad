"""A run config from what the user gives: a YAML file (theirs or a shipped one), `section.key=value`
settings and flags, merged in that order into one `RunConfig`.

Kept apart from the settings' definitions (config/schema.py): this is where text becomes values (YAML read
safely, YAML 1.1's `2e-3` read as the number it means for a float setting, flag parsers for dotted settings)
and where a key set twice, an unknown setting or a missing file is refused.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from seq2seq_adapters.config.fields import allowed_types
from seq2seq_adapters.config.legacy import RETIRED_MODEL_KEYS, retired_key_problem
from seq2seq_adapters.config.schema import SECTIONS, RunConfig, setting_fields
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import wrong_kind

SHIPPED_CONFIGS = Path(__file__).parent / "shipped"
"""Run configs installed with the package: `--config NAME` finds them from any folder."""


def shipped_configs() -> dict[str, Path]:
    """The shipped run configs by name (file name without .yaml)."""
    return {path.stem: path for path in sorted(SHIPPED_CONFIGS.glob("*.yaml"))}


def config_path(given: str | Path) -> Path:
    """A config file as given, else a shipped config of that name (`dialogsum`, also `configs/dialogsum.yaml`)."""
    path = Path(given)
    if problem := wrong_kind(path, want_folder=False):  # first: a name too long to look at raises in is_file
        raise S2SAError(f"config file {given} {problem}")
    if path.is_file():
        return path
    shipped = shipped_configs()
    name = path.name.removesuffix(".yaml")
    if name in shipped and str(path.parent) in (".", "configs"):
        return shipped[name]
    raise S2SAError(f"config file not found: {given}; shipped configs: {', '.join(shipped)} (s2sa configs lists them)")


def load_config(
    path: str | Path | None,
    overrides: dict[str, dict[str, Any]] | None = None,
    settings: dict[str, dict[str, Any]] | None = None,
) -> RunConfig:
    """Read a YAML run config (if any), apply dotted `settings` (as given, null included), then the
    `{section: {key: value}}` flag `overrides` that are not None; one key set both ways is an error."""
    raw: dict[str, Any] = {}
    if path is not None:
        path = config_path(path)
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except (yaml.YAMLError, ValueError) as exc:  # ValueError: a number past Python's int-to-text digit limit
            raise S2SAError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0][:200]}") from None
        if not isinstance(raw, dict):
            raise S2SAError(f"config file {path} must hold a mapping of sections")
        for section, values in raw.items():
            if isinstance(values, dict):
                raw[section] = {key: yaml_number(section, key, value) for key, value in values.items()}
    for section, values in (settings or {}).items():
        for key, value in values.items():
            if (overrides or {}).get(section, {}).get(key) is not None:
                raise S2SAError(f"{section}.{key} is given twice: as a flag and as {section}.{key}=...; keep one")
            _set(raw, section, key, value)
    for section, values in (overrides or {}).items():
        for key, value in values.items():
            if value is not None:
                _set(raw, section, key, value)
    return RunConfig.from_dict(raw, source=str(path) if path else "config")


def _set(raw: dict[str, Any], section: str, key: str, value: Any) -> None:
    """raw[section][key] = value, creating the section (also over a YAML `section:` left empty)."""
    if raw.get(section) is None:
        raw[section] = {}
    if isinstance(raw[section], dict):  # otherwise RunConfig.from_dict reports the section
        raw[section][key] = value


def parse_overrides(items: Iterable[str]) -> dict[str, dict[str, Any]]:
    """`section.key=value` arguments (torchtune style) as `{section: {key: value}}`; values read as YAML.

    A setting with a flag parser (leave_out) reads its text as the flag does: `model.leave_out=0,1`."""
    fields_by_key = {f"{section}.{f.name}": f for section, f in setting_fields()}
    parsed: dict[str, dict[str, Any]] = {}
    for item in items:
        key, equals, text = item.partition("=")
        if not equals:
            raise S2SAError(f"unexpected argument {item!r}: settings are given as section.key=value, e.g. train.max_steps=300")
        f = fields_by_key.get(key.strip())
        if key.strip() in {f"model.{name}" for name in RETIRED_MODEL_KEYS}:
            raise S2SAError(retired_key_problem(item))
        if f is None:
            close = difflib.get_close_matches(key.strip(), fields_by_key, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise S2SAError(f"{item}: unknown setting {key.strip()!r}; {hint}settings are {', '.join(SECTIONS)} keys (see s2sa train --help)")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except (yaml.YAMLError, ValueError):  # ValueError: a number past Python's int-to-text digit limit
            value = text
        section, name = key.strip().split(".", 1)
        if name in parsed.get(section, {}):
            raise S2SAError(f"{key.strip()} is given twice ({item!r} after {key.strip()}={parsed[section][name]!r}); keep one")
        parse = f.metadata.get("parse")
        if parse is not None and (isinstance(value, (str, int)) or not text.strip() or text.lstrip().startswith("#")):  # YAML: a comment
            value = parse(text)
        else:
            value = yaml_number(section, name, value)
        parsed.setdefault(section, {})[name] = value
    return parsed


def yaml_number(section: str, name: str, value: Any) -> Any:
    """YAML 1.1 reads `2e-3` (no dot) as text; for a float setting it means the number, in a YAML file as in a
    section.key=value override. Other text is left for the type check to refuse."""
    hint = typing.get_type_hints(SECTIONS[section]).get(name) if section in SECTIONS else None
    if not isinstance(value, str) or hint is None or float not in allowed_types(hint):
        return value
    try:
        return float(value)
    except ValueError:
        return value
