"""`setting()` and `Settings`: one field defines a setting's flags and bounds, and one pass checks any section's
values (types and choices, then each value alone, then the section's own rules), naming each by `label`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import pytest

from seq2seq_adapters.config.fields import Settings, flag_name, setting, setting_flags


@dataclass
class Toy(Settings):
    """A section as config/schema.py writes one, with every kind of field."""

    steps: int = setting(10, "steps", bounds="[1, inf)")
    rate: float = setting(0.5, "a rate", bounds="(0, 1)", flags=("--rate", "-r"))
    ratio: float = setting(0.5, "a share", bounds="[0, 1]")
    decay: float = setting(1.0, "decay", bounds="(0, inf)")
    mode: Literal["fast", "slow"] = setting("fast", "speed")
    name: str | None = setting(None, "a name", flags=None)
    layers: list[int] = setting([0, 1], "layer ids")
    greedy: bool = setting(False, "greedy")

    def rules(self, label):
        return [f"{label('ratio')} must not be above {label('rate')}"] if self.ratio > self.rate else []


def test_a_setting_carries_its_flags():
    fields = {f.name: f for f in dataclasses.fields(Toy)}
    assert setting_flags("toy", fields["steps"]) == ("--steps",)  # flags=(): the field's own name
    assert setting_flags("toy", fields["rate"]) == ("--rate", "-r")
    assert setting_flags("toy", fields["name"]) == ()  # flags=None: only toy.name=... sets it
    assert fields["steps"].metadata["help"] == "steps" and fields["steps"].metadata["bounds"] == "[1, inf)"
    assert flag_name("max_new_tokens") == "--max-new-tokens"


def test_a_list_default_is_not_shared_between_sections():
    first, second = Toy(), Toy()
    first.layers.append(5)
    assert second.layers == [0, 1]


def test_valid_values_have_no_problem():
    assert Toy().problems() == []
    assert Toy(rate=1e-3, ratio=0, decay=3, steps=1, layers=[], name="x").problems() == []


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"steps": "ten"}, "steps must be int, got 'ten'"),
        ({"steps": True}, "steps must be int, got True"),  # a bool is no number here
        ({"rate": 3}, "rate must be in (0, 1), got 3"),  # an int is a fine float: then its value is checked
        ({"decay": 0.0}, "decay must be positive, got 0.0"),
        ({"mode": "medium"}, "mode must be 'fast' or 'slow', got 'medium'"),
        ({"name": 5}, "name must be str or null, got 5"),
        ({"layers": [0, "1"]}, "layers must be a list of integers, got [0, '1']"),
        ({"layers": None}, "layers must be a list of integers, got nothing (an empty value, or text after # that YAML reads as a comment: quote it)"),
        ({"rate": float("nan")}, "rate must be a finite number, got nan"),
        ({"steps": 0}, "steps must be at least 1, got 0"),
        ({"rate": 1.0}, "rate must be in (0, 1), got 1.0"),
        ({"ratio": 1.5}, "ratio must be in [0, 1], got 1.5"),
        ({"name": "  "}, "name must not be empty (leave it out for the default), got '  '"),
        ({"name": "a\0b"}, "name must not contain a NUL character"),
    ],
)
def test_each_kind_of_problem_is_named(values, problem):
    assert Toy(**values).problems() == [problem]


def test_problems_are_labelled_and_the_rules_wait_for_valid_values():
    """The label names a setting as its source does (a YAML key, a flag); cross-field rules run only on
    values that are each valid (they would fail on a wrong type)."""
    assert Toy(ratio=0.9, rate=0.2).problems(lambda name: f"toy.{name}") == ["toy.ratio must not be above toy.rate"]
    assert Toy(ratio=0.9, rate=0.2).problems(flag_name) == ["--ratio must not be above --rate"]
    assert Toy(ratio=0.9, rate=0.2, steps=0).problems() == ["steps must be at least 1, got 0"]
    assert Toy(ratio=0.9, rate=0.2, steps="x").problems() == ["steps must be int, got 'x'"]
