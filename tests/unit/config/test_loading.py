"""A RunConfig from a YAML file (a path or a shipped config's name), dotted settings and flags; every shipped
config loads and validates; YAML's own readings (comments, exponents) named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import seq2seq_adapters
from seq2seq_adapters.config.loading import load_config, parse_overrides, shipped_configs
from seq2seq_adapters.config.value_rules import parse_marker_tokens
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.model.builder import parse_adapter_config


def test_the_dialogsum_config_asks_for_auto_and_none_turns_it_off():
    assert load_config("dialogsum").model.marker_tokens == "auto"
    assert load_config("dialogsum", {"model": {"marker_tokens": parse_marker_tokens("none")}}).model.markers == []
    assert load_config("dialogsum", settings=parse_overrides(["model.marker_tokens="])).model.markers == []


def test_an_unquoted_marker_in_a_yaml_file_is_named_as_a_yaml_comment(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("model:\n  marker_tokens: #Person1#\n")
    with pytest.raises(S2SAError, match=r"model.marker_tokens must be str, got nothing \(.*YAML reads as a comment: quote it\)"):
        load_config(config)


SHIPPED = shipped_configs()


def test_the_documented_configs_ship_with_the_package():
    assert {"quickstart", "dialogsum"} <= set(SHIPPED)
    assert all(path.is_relative_to(Path(seq2seq_adapters.__file__).parent) for path in SHIPPED.values())
    assert load_config("dialogsum").data.data == "knkarthick/dialogsum"  # the public dataset, not a local path


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_config_loads_and_validates(name):
    path = SHIPPED[name]
    raw = yaml.safe_load(path.read_text())
    config = load_config(path)
    config.validate()
    for section, values in raw.items():
        for key, value in values.items():
            assert getattr(getattr(config, section), key) == value, f"{section}.{key}"
    # the adapter string and leave_out fit the bundled MiniLM (6 + 6 layers)
    parse_adapter_config(config.model.adapter_config, config.model.leave_out, (6, 6))
    # flags override single keys and leave the rest of the file alone
    overridden = load_config(path, {"train": {"max_steps": 300}, "model": {"leave_out": None}})
    assert overridden.train.max_steps == 300
    assert overridden.to_dict()["model"] == config.to_dict()["model"]
    assert {k: v for k, v in overridden.to_dict()["train"].items() if k != "max_steps"} == {
        k: v for k, v in config.to_dict()["train"].items() if k != "max_steps"
    }


def test_a_yaml_file_reads_exponent_numbers_as_the_command_line_does(tmp_path):
    """YAML 1.1 reads `1e-3` (no dot) as text: a config file with `learning_rate: 1e-3` was refused as a string,
    while `train.learning_rate=1e-3` worked. Text that is no number is still refused by the type check."""
    config = tmp_path / "run.yaml"
    config.write_text("train:\n  learning_rate: 1e-3\n  warmup_ratio: 5e-2\n")
    loaded = load_config(config)
    assert (loaded.train.learning_rate, loaded.train.warmup_ratio) == (1e-3, 5e-2)
    config.write_text("train:\n  learning_rate: fast\n")
    with pytest.raises(S2SAError, match="train.learning_rate must be float or null, got 'fast'"):
        load_config(config)
