"""Bounds before work: counts whose cost grows with them are refused in one line before the model loads, and
a message never formats an unbounded value (a YAML alias bomb, a 10,000-digit number)."""

from __future__ import annotations

import pytest
from conftest import assert_one_line_error, run_cli

ALIAS_BOMB = "train:\n  seed: &a [1,1,1,1,1,1,1,1,1]\n" + "".join(
    f"  {key}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
    for key, name, previous in [("batch_size", "b", "a"), ("grad_accum", "c", "b"), ("epochs", "d", "c"),
                                ("warmup_ratio", "e", "d"), ("weight_decay", "f", "e"), ("logging_steps", "g", "f")]
)
"""9^7 = 4.8 million list items behind a few hundred bytes: formatting it for the message ran out of memory."""


@pytest.mark.parametrize(
    "args, needles",
    [
        (["train", "--num-beams", "100000"], ["generation.num_beams must be at most 64, got 100000"]),
        (["train", "--epochs", "1e300"], ["train.epochs must be at most 1000, got 1e+300"]),
        (["train", "train.max_steps=" + "9" * 5000], ["train.max_steps must be int, got '9999", "...9999"]),  # past the int-to-text limit
        (["train", "--batch-size", "100000000"], ["train.batch_size must be at most 4096"]),
        (["train", "--max-new-tokens", "100000"], ["generation.max_new_tokens must be at most 512"]),
    ],
)
def test_unbounded_counts_are_refused_before_anything_loads(args, needles, tmp_path):
    result = run_cli([*args, "--output-dir", str(tmp_path / "run")], timeout=120)
    assert_one_line_error(result, *needles)
    assert not (tmp_path / "run").exists()


def test_eval_refuses_beams_past_the_bound_before_loading(stored_pair):
    assert_one_line_error(run_cli(["eval", str(stored_pair / "run"), "--num-beams", "100000"], timeout=120),
                          "--num-beams must be at most 64, got 100000")


def test_a_yaml_alias_bomb_is_one_short_line(tmp_path):
    config = tmp_path / "bomb.yaml"
    config.write_text(ALIAS_BOMB)
    result = run_cli(["train", "--config", str(config), "--output-dir", str(tmp_path / "run")], timeout=120)
    assert_one_line_error(result, "train.epochs must be float, got [[[...]")
    assert len(result.stderr) < 2000
