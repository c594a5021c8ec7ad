"""RunConfig's sections: the rules each checks, and the one GenerationArgs -> generate() mapping."""

from __future__ import annotations

import pytest

from seq2seq_adapters.config.loading import load_config, parse_overrides
from seq2seq_adapters.config.schema import GenerationArgs
from seq2seq_adapters.core.errors import S2SAError


def test_generation_rules_are_the_same_for_train_and_eval():
    """One definition per rule: eval names the flag, a run config the key."""

    bad = GenerationArgs(batch_size=0, min_new_tokens=-1)
    assert bad.problems(lambda name: f"--{name.replace('_', '-')}") == [
        "--min-new-tokens must be at least 0, got -1", "--batch-size must be at least 1, got 0"
    ]
    with pytest.raises(S2SAError, match="generation.min_new_tokens must be at least 0"):
        load_config(None, settings=parse_overrides(["generation.min_new_tokens=-1"]))


def test_the_generate_mapping_is_written_once():
    """length_penalty and early_stopping only with beams (they mean nothing to greedy decoding)."""

    assert GenerationArgs(num_beams=1, min_new_tokens=5, max_new_tokens=20).generate_kwargs() == {
        "num_beams": 1, "max_new_tokens": 20, "min_new_tokens": 5, "no_repeat_ngram_size": 3
    }
    assert GenerationArgs().generate_kwargs()["length_penalty"] == 2.0
