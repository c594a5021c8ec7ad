"""The search space: the shipped one loads against the default config and its first trial is today's default;
every mistake in a space file is one line before anything trains."""

from __future__ import annotations

import re

import optuna
import pytest

from seq2seq_adapters.config.schema import DEFAULT_ADAPTER_CONFIG, RunConfig
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.tuning.space import DEFAULT_SPACE, load_space, trial_config


def space_file(tmp_path, text: str):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return path


def test_the_shipped_space_loads_and_starts_from_todays_default():
    base = RunConfig()
    space = load_space(None, base)
    assert {d.key for d in space.dimensions} == {"model.adapter_config", "model.train", "train.learning_rate"}
    first = trial_config(base, space.first[0])
    assert (first.model.adapter_config, first.model.train, first.train.learning_rate) == (DEFAULT_ADAPTER_CONFIG, base.model.train, base.train.learning_rate)
    assert load_space(DEFAULT_SPACE, base).fingerprint() == space.fingerprint()


def test_a_trial_draws_inside_the_space_and_grid_lists_the_choices(tmp_path):
    space = load_space(space_file(tmp_path, "space:\n  train.learning_rate: {low: 1.0e-4, high: 1.0e-2, log: true}\n"
                                            "  train.batch_size: {low: 2, high: 8}\n  model.adapter_config: {choices: [seq_bn, lora]}\n"), RunConfig())
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    values = space.suggest(study.ask())
    assert 1e-4 <= values["train.learning_rate"] <= 1e-2 and values["model.adapter_config"] in {"seq_bn", "lora"}
    assert isinstance(values["train.batch_size"], int) and 2 <= values["train.batch_size"] <= 8
    with pytest.raises(S2SAError, match="--sampler grid needs choices for every setting; train.learning_rate, train.batch_size"):
        space.grid()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("space:\n  train.learnig_rate: {choices: [0.1]}\n", "unknown setting 'train.learnig_rate'; did you mean train.learning_rate?"),
        ("space:\n  train.learning_rate: {low: 0.01, high: 0.001}\n", "the range [0.01, 0.001] is empty"),
        ("space:\n  train.learning_rate: {low: 0.01, high: 0.01}\n", "is empty"),
        ("space:\n  train.learning_rate: {choices: []}\n", "choices must be a non-empty list"),
        ("space:\n  train.learning_rate: {choices: [0.1, 0.1]}\n", "choices repeat a value"),
        ("space:\n  train.learning_rate: {low: 0.0, high: 0.1, log: true}\n", "a log scale needs low > 0"),
        ("space:\n  train.learning_rate: {low: 1e-4, high: 0.1}\n", "low and high must both be finite numbers (YAML reads 1e-3 as text"),
        ("space:\n  train.learning_rate: {low: -1.0, high: 0.1}\n", "train.learning_rate=-1.0 is not a valid setting"),
        ("space:\n  train.learning_rate: {min: 0.1, max: 1.0}\n", "takes `choices: [...]` or `low:`, `high:`"),
        ("space:\n  model.adapter_config: {choices: [seq_bn, no_such_adapter]}\n", "model.adapter_config='no_such_adapter' is not a valid setting"),
        ("space:\n  generation.num_beams: {choices: [4, 100]}\n", "generation.num_beams=100 is not a valid setting"),
        ("space:\n  train.output_dir: {choices: [a, b]}\n", "train.output_dir cannot vary"),
        ("space: {}\n", "must hold a mapping `space:`"),
        ("- a list\n", "must hold a mapping `space:`"),
        ("space:\n  train.seed: {choices: [1, 2]}\nlast: []\n", "unknown top-level key(s) ['last']"),
        ("space:\n  train.seed: {choices: [1, 2]}\nfirst:\n  - {train.seed: 3}\n", "first trial's train.seed=3 lies outside the space"),
        ("space:\n  train.seed: {choices: [1, 2]}\nfirst:\n  - {train.epochs: 3}\n", "which the space does not vary"),
        ("space:\n  train.seed: {choices: [1, 2]\n", "is not valid YAML"),
        ("space:\n  train.batch_size: {choices: [1, 2]}\nfirst:\n  - {train.batch_size: true}\n", "train.batch_size=True lies outside the space"),
        ("space:\n  train.seed: {choices: [" + ",".join(map(str, range(1001))) + "]}\n", "1001 choices; at most 1000"),  # took minutes
        ("space:\n  train.seed: {choices: [1]}\n1: x\nb: y\n", "unknown top-level key(s) ['1', 'b']"),  # sorted() of int and str
    ],
)
def test_a_bad_space_file_is_one_line_naming_the_setting(tmp_path, text, message):
    with pytest.raises(S2SAError) as info:
        load_space(space_file(tmp_path, text), RunConfig())
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_missing_space_file_or_a_folder_is_named(tmp_path):
    with pytest.raises(S2SAError, match="--space .*nothing.yaml: no such file"):
        load_space(tmp_path / "nothing.yaml", RunConfig())
    with pytest.raises(S2SAError, match="is a folder"):
        load_space(tmp_path, RunConfig())


def test_a_fifo_is_refused_without_reading_it(tmp_path):
    import os

    os.mkfifo(tmp_path / "space.yaml")
    with pytest.raises(S2SAError, match="is not a regular file"):
        load_space(tmp_path / "space.yaml", RunConfig())


def test_a_choice_is_read_as_its_dotted_override_would_be(tmp_path):
    space = load_space(space_file(tmp_path, "space:\n  model.leave_out: {choices: ['', '0,1,2']}\n"), RunConfig())
    assert [trial_config(RunConfig(), {"model.leave_out": choice}).model.leave_out for choice in space.dimensions[0].choices] == [[], [0, 1, 2]]


ALIAS_BOMB = ", ".join(["&a0 [x, x, x, x, x, x, x, x, x]"] + [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 25)])
"""YAML aliases that expand to 9**25 items (a few bytes as YAML, as Python objects shared references)."""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("space:\n  train.learning_rate: {choices: [" + ALIAS_BOMB + "]}\n", "choices must be single values"),
        ("space:\n  train.learning_rate: {choices: [0.01]}\nfirst:\n  - {train.learning_rate: [" + ALIAS_BOMB + "]}\n", "lies outside the space"),
        ("space:\n  train.learning_rate: {choices: [0.01], extra: [" + ALIAS_BOMB + "]}\n", "takes `choices: [...]`"),
    ],
)
def test_an_alias_bomb_in_a_space_file_is_one_short_line(tmp_path, text, message):
    """Printing or comparing the expanded value (json.dumps, repr) never ended; the message cuts it short."""
    with pytest.raises(S2SAError, match=re.escape(message)) as info:
        load_space(space_file(tmp_path, text), RunConfig())
    assert len(str(info.value)) < 500
