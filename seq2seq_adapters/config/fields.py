"""What every setting is, whichever it is: a dataclass field that also defines its CLI option, and the one
validation pass over a section's fields.

`setting()` puts a setting's help, flags, bounds and flag parser on its field, so one definition (config/schema.py)
makes the YAML key, the `s2sa train` option, the dotted override and the checks. `Settings` checks a section's
values by their type hints and that metadata, wherever they come from: a flag, a YAML file, a dotted override or
a saved run. Nothing here knows a particular setting.
"""

from __future__ import annotations

import dataclasses
import math
import reprlib
import types
import typing
from collections.abc import Callable
from dataclasses import field
from typing import Any, Literal


def setting(
    default: Any = None, help: str = "", *, flags: tuple[str, ...] | None = (), bounds: str | None = None,
    most: float | None = None, parse: Callable[[str], Any] | None = None,
) -> Any:
    """A dataclass field that also defines its CLI option: help text, flags, and the allowed range.

    `flags=()` gives `--field-name`; `flags=None` leaves the setting to a dotted override
    (`s2sa train generation.batch_size=8`); `bounds` is an interval such as "[0, 1)" or "[1, inf)";
    `most` caps a count whose cost grows with it (beams, epochs, batch) at what a machine can do, checked
    before any work; `parse` turns the flag's text into the value."""
    metadata = {"help": help, "flags": flags, "bounds": bounds, "most": most, "parse": parse}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def setting_flags(section: str, f: dataclasses.Field) -> tuple[str, ...]:
    """The `s2sa train` flags of a setting (none for those set only by a dotted override)."""
    flags = f.metadata.get("flags", ())
    return (flag_name(f.name),) if flags == () else tuple(flags or ())


def flag_name(name: str) -> str:
    """The flag spelling of a setting or parameter name: `max_new_tokens` -> `--max-new-tokens`."""
    return f"--{name.replace('_', '-')}"


class Settings:
    """Base of the four sections: each checks its own values (types, then each value alone, then its own rules).

    This is the one validation pass of a setting, whether it comes from a flag, a YAML file, a dotted
    override or a run's saved files (run_config.json, s2sa.json)."""

    def problems(self, label: Callable[[str], str] = str) -> list[str]:
        """Every problem with this section's values, each naming the setting as `label(field name)`."""
        problems = type_problems(self, label)
        if problems:  # the checks below would fail on wrong types
            return problems
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if problem := value_problem(getattr(self, f.name), f.metadata.get("bounds"), f.metadata.get("most")):
                problems.append(f"{label(f.name)} {problem}")
        return problems or self.rules(label)  # the rules compare values that are each valid

    def rules(self, label: Callable[[str], str]) -> list[str]:
        """Checks across fields or beyond a range (values are each valid here)."""
        return []


def type_problems(values: Settings, label: Callable[[str], str] = str) -> list[str]:
    """Values of the wrong type (from a YAML/JSON config or a dotted override), and Literal values outside their choices."""
    problems = []
    hints = typing.get_type_hints(type(values))
    for f in dataclasses.fields(values):  # type: ignore[arg-type]
        value, hint = getattr(values, f.name), hints[f.name]
        allowed = allowed_types(hint)
        ok = isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)
        if float in allowed and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if ok and isinstance(value, list):
            ok = all(isinstance(item, int) and not isinstance(item, bool) for item in value)
        if ok and typing.get_origin(hint) is Literal and value not in typing.get_args(hint):
            choices = " or ".join(repr(choice) for choice in typing.get_args(hint))
            problems.append(f"{label(f.name)} must be {choices}, got {shown(value)}")
            continue
        if not ok:
            expected = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
            if list in allowed:
                expected = "a list of integers" + (" or null" if type(None) in allowed else "")
            got = "nothing (an empty value, or text after # that YAML reads as a comment: quote it)" if value is None else shown(value)
            problems.append(f"{label(f.name)} must be {expected}, got {got}")
    return problems


def allowed_types(hint: Any) -> tuple[type, ...]:
    """The runtime types a field's type hint accepts (str for a Literal)."""
    origin = typing.get_origin(hint)
    if origin is Literal:
        return (str,)
    if origin in (typing.Union, types.UnionType):
        return tuple(typing.get_origin(arg) or arg for arg in typing.get_args(hint))
    return (origin or hint,)


def value_problem(value: Any, bounds: str | None, most: float | None = None) -> str | None:
    """What is wrong with one setting's value on its own (its type is right): not finite, out of bounds, above
    its cap, empty text."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {shown(value)}"
    if isinstance(value, str) and (not value.strip() or "\0" in value):
        return f"must not be empty (leave it out for the default), got {shown(value)}" if not value.strip() else "must not contain a NUL character"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if bounds is not None and (problem := bounds_problem(value, bounds)):
            return problem
        if most is not None and value > most:
            return f"must be at most {most:g}, got {shown(value)}"
    return None


def bounds_problem(value: float, bounds: str) -> str | None:
    """Why `value` lies outside `bounds` ("[low, high]", each end "(" / ")" when open, "inf" for none), or None."""
    low_text, high_text = (part.strip() for part in bounds[1:-1].split(","))
    low, high = float(low_text), float(high_text)
    above_low = value > low if bounds[0] == "(" else value >= low
    below_high = value < high if bounds[-1] == ")" else value <= high
    if above_low and below_high:
        return None
    if not math.isinf(high):
        return f"must be in {bounds}, got {shown(value)}"
    if bounds[0] == "(":
        return f"must be positive, got {shown(value)}" if low == 0 else f"must be above {low_text}, got {shown(value)}"
    return f"must be at least {low_text}, got {shown(value)}"


SHOWN = reprlib.Repr()  # Python 3.11's Repr takes no keyword arguments
SHOWN.maxlevel, SHOWN.maxlist, SHOWN.maxdict, SHOWN.maxstring, SHOWN.maxlong, SHOWN.maxother = 2, 4, 4, 60, 40, 60
"""A value as a message quotes it: cut short, so a YAML alias bomb or a 10,000-digit number gives one short
line instead of a MemoryError (or Python's int-to-text limit) while formatting the error."""


def shown(value: Any) -> str:
    """`repr(value)` for messages, bounded in size (SHOWN); an integer too long to print as text by its size."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of {value.bit_length()} bits"
    return SHOWN.repr(value)
