"""The one migration of old saved settings: the pre-`train` flags, in YAML files, run configs and s2sa.json, and
a saved min_new_tokens above max_new_tokens (lowered with a warning)."""

from __future__ import annotations

import json

import pytest
from conftest import FORMAT_1

from seq2seq_adapters.config.legacy import upgrade_legacy_keys
from seq2seq_adapters.config.loading import load_config
from seq2seq_adapters.config.schema import ModelArgs, RunConfig
from seq2seq_adapters.core.errors import S2SAError, S2SAWarning
from seq2seq_adapters.layout.artifact_folder import ArtifactInfo, read_info


def test_legacy_flags_become_a_policy():
    assert upgrade_legacy_keys({"full_finetune": True, "freeze_new_weights": False})["train"] == "all"
    assert upgrade_legacy_keys({"full_finetune": False, "freeze_new_weights": True})["train"] == "adapter"
    assert upgrade_legacy_keys({"full_finetune": False, "freeze_new_weights": False}) == {"train": "adapter,new"}
    assert upgrade_legacy_keys({"train": "adapter,head", "freeze_new_weights": False}) == {"train": "adapter,head"}
    with pytest.raises(S2SAError, match="freeze_new_weights and train both say which weights train"):
        upgrade_legacy_keys({"train": "adapter,head", "freeze_new_weights": True})


def test_old_run_configs_and_artifacts_are_read(tmp_path):
    """Runs and artifacts written before `train` existed state full_finetune/freeze_new_weights."""
    old = tmp_path / "config.yaml"
    old.write_text("model:\n  freeze_new_weights: true\n  full_finetune: false\n")
    assert load_config(old).model.train == "adapter"
    info = ArtifactInfo(model={"full_finetune": True, "freeze_new_weights": False}, generation={}, new_weight_names=[])
    assert info.model_args.full_finetune
    with pytest.raises(S2SAError, match="--train: unknown 'heads'"):
        RunConfig(model=ModelArgs(train="adapter,heads"))


def test_saved_min_new_tokens_above_max_is_lowered_with_a_warning(tmp_path):
    """Older s2sa saved such pairs: they load (min lowered to max, as generate() behaved); YAML stays strict."""

    raw = json.loads(FORMAT_1.read_text())
    raw["generation"].update(min_new_tokens=10, max_new_tokens=8)
    (tmp_path / "s2sa.json").write_text(json.dumps(raw))
    with pytest.warns(S2SAWarning, match="min_new_tokens 10 is above generation.max_new_tokens 8 .saved by an older s2sa.; using min_new_tokens 8"):
        info = read_info(tmp_path)
    assert (info.generation.min_new_tokens, info.generation.max_new_tokens) == (8, 8)
    (tmp_path / "run.yaml").write_text("generation:\n  min_new_tokens: 10\n  max_new_tokens: 8\n")
    with pytest.raises(S2SAError, match="generation.min_new_tokens 10 is above generation.max_new_tokens 8"):
        load_config(tmp_path / "run.yaml")
