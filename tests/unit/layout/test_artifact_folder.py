"""An artifact folder's s2sa.json (versioned, typed, checked by the settings' own pass) and whether its
safetensors files are whole, read without torch."""

from __future__ import annotations

import json
import re

import pytest
import torch
from conftest import FORMAT_1
from tiny import WEIGHT_DAMAGES, damage_weights

from seq2seq_adapters.core.errors import S2SAError, S2SAWarning
from seq2seq_adapters.layout.artifact_folder import FORMAT_VERSION, read_info


def test_keys_of_a_newer_s2sa_are_dropped_with_a_warning(tmp_path):
    newer = json.loads(FORMAT_1.read_text())
    newer.update(format_version=FORMAT_VERSION + 1, tokenizer_hash="abc")
    newer["model"]["rank_schedule"] = "cosine"
    (tmp_path / "s2sa.json").write_text(json.dumps(newer))
    with pytest.warns(S2SAWarning, match=rf"format {FORMAT_VERSION + 1}, newer than this s2sa's {FORMAT_VERSION}.*ignored: tokenizer_hash, model.rank_schedule"):
        info = read_info(tmp_path)
    assert info.model.encoder == "TINY" and info.generation.length_penalty == 2.0
    assert json.loads(json.dumps(info.to_dict()))["format_version"] == FORMAT_VERSION


@pytest.mark.parametrize(
    "damage,expected",
    [
        (lambda raw: raw.update(format_version="two"), "format_version 'two' is not a positive integer"),
        (lambda raw: raw["generation"].update(num_beams="four"), "generation.num_beams must be int, got 'four'"),
        (lambda raw: raw.update(model=None), "'model' is missing or not a mapping"),
        (lambda raw: raw.pop("new_weight_names"), "missing 1 required positional argument: 'new_weight_names'"),
    ],
)
def test_a_damaged_s2sa_json_is_one_line(tmp_path, damage, expected):
    raw = json.loads(FORMAT_1.read_text())
    damage(raw)
    (tmp_path / "s2sa.json").write_text(json.dumps(raw))
    with pytest.raises(S2SAError, match=f"s2sa.json is corrupted: .*{re.escape(expected)}"):
        read_info(tmp_path)


@pytest.mark.parametrize("damage", WEIGHT_DAMAGES)
def test_damaged_weight_files_are_found(tmp_path, damage):
    """verify_weight_files opens each file with safetensors' numpy reader: the header and the offsets must
    cover the file exactly, so `truncate -s 1000`, random bytes and appended bytes are caught before torch
    (that it imports no torch: tests/integration/test_errors_artifacts.py)."""
    from safetensors.torch import save_file

    from seq2seq_adapters.layout.artifact_folder import verify_weight_files

    path = tmp_path / "adapter.safetensors"
    save_file({"w": torch.ones(64, 64)}, str(path))
    verify_weight_files(tmp_path)
    damage_weights(path, damage)
    with pytest.raises(S2SAError, match="adapter.safetensors is damaged or truncated"):
        verify_weight_files(tmp_path)
