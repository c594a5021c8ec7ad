"""Save/load symmetry of adapter folders, and cross-attention initialised from self-attention."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
import torch
from conftest import TEST_DATA

from seq2seq_adapters.config.schema import GenerationArgs, ModelArgs
from seq2seq_adapters.core.errors import S2SAError, S2SAWarning
from seq2seq_adapters.layout.artifact_folder import FORMAT_VERSION, ArtifactInfo, read_info
from seq2seq_adapters.model.artifact_io import load_artifact, save_artifact
from seq2seq_adapters.model.builder import build_summarizer


@pytest.mark.parametrize("adapter_config", ["seq_bn", "lora[r=4]", "prefix_tuning", "mam"])
def test_round_trip_restores_every_tensor(tiny_bert, tmp_path, adapter_config):
    margs = ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), adapter_config=adapter_config, leave_out=[0])
    summarizer = build_summarizer(margs)
    with torch.no_grad():  # stand-in for training: move every trainable tensor away from its initial value
        for parameter in summarizer.model.parameters():
            if parameter.requires_grad:
                parameter.add_(0.01 * torch.randn_like(parameter))
    info = ArtifactInfo(model=dataclasses.asdict(margs), generation={}, new_weight_names=summarizer.new_weight_names)
    save_artifact(tmp_path / "artifact", summarizer, info)
    assert not list((tmp_path / "artifact").glob("*.bin")), "weights are written as safetensors only"

    loaded, _ = load_artifact(tmp_path / "artifact")
    saved, restored = dict(summarizer.model.named_parameters()), dict(loaded.model.named_parameters())
    assert saved.keys() == restored.keys()
    for name, tensor in saved.items():
        assert torch.equal(tensor, restored[name]), name


def test_cross_attention_can_start_from_self_attention(tiny_bert):
    summarizer = build_summarizer(
        ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), cross_attention_init="self", train="adapter")
    )
    for layer in summarizer.model.decoder.bert.encoder.layer:
        own, cross = layer.attention.state_dict(), layer.crossattention.state_dict()
        for key in ("self.query.weight", "self.value.bias", "output.dense.weight", "output.LayerNorm.weight"):
            assert torch.equal(own[key], cross[key])
            assert own[key].data_ptr() != cross[key].data_ptr(), "a copy, not shared"
        assert not layer.crossattention.self.query.weight.requires_grad


FORMAT_1 = TEST_DATA / "s2sa-format-1.json"
"""s2sa.json exactly as s2sa wrote it at format 1 (base checkpoints and new weight names filled in by the test)."""


def test_an_artifact_written_in_the_previous_format_loads(tiny_bert, tmp_path):
    margs = ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), leave_out=[0])
    summarizer = build_summarizer(margs)
    save_artifact(tmp_path / "a", summarizer, ArtifactInfo(model=dataclasses.asdict(margs), generation={}, new_weight_names=summarizer.new_weight_names))
    old = json.loads(FORMAT_1.read_text())
    old["model"].update(encoder=str(tiny_bert), decoder=str(tiny_bert))
    old["new_weight_names"] = summarizer.new_weight_names
    (tmp_path / "a" / "s2sa.json").write_text(json.dumps(old))
    loaded, info = load_artifact(tmp_path / "a")
    assert isinstance(info.model, ModelArgs) and isinstance(info.generation, GenerationArgs)
    assert (info.model.leave_out, info.generation.num_beams, info.max_source_length) == ([0], 4, 128)
    restored = dict(loaded.model.named_parameters())
    for name, tensor in summarizer.model.named_parameters():
        assert torch.equal(tensor, restored[name]), name


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


def test_saved_min_new_tokens_above_max_is_lowered_with_a_warning(tmp_path):
    """Older s2sa saved such pairs: they load (min lowered to max, as generate() behaved); YAML stays strict."""
    from seq2seq_adapters.config.loading import load_config

    raw = json.loads(FORMAT_1.read_text())
    raw["generation"].update(min_new_tokens=10, max_new_tokens=8)
    (tmp_path / "s2sa.json").write_text(json.dumps(raw))
    with pytest.warns(S2SAWarning, match="min_new_tokens 10 is above generation.max_new_tokens 8 .saved by an older s2sa.; using min_new_tokens 8"):
        info = read_info(tmp_path)
    assert (info.generation.min_new_tokens, info.generation.max_new_tokens) == (8, 8)
    (tmp_path / "run.yaml").write_text("generation:\n  min_new_tokens: 10\n  max_new_tokens: 8\n")
    with pytest.raises(S2SAError, match="generation.min_new_tokens 10 is above generation.max_new_tokens 8"):
        load_config(tmp_path / "run.yaml")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "longer"])
def test_damaged_weight_files_are_found_without_torch(tmp_path, damage):
    """verify_weight_files opens each file with safetensors' numpy reader: the header and the offsets must
    cover the file exactly, so `truncate -s 1000`, random bytes and appended bytes are caught before torch."""
    from conftest import run_python
    from safetensors.torch import save_file

    from seq2seq_adapters.layout.artifact_folder import verify_weight_files

    path = tmp_path / "adapter.safetensors"
    save_file({"w": torch.ones(64, 64)}, str(path))
    verify_weight_files(tmp_path)
    data = path.read_bytes()
    path.write_bytes({"truncate": data[:1000], "garbage": bytes(range(256)) * 8, "empty": b"", "longer": data + b"x"}[damage])
    with pytest.raises(S2SAError, match="adapter.safetensors is damaged or truncated"):
        verify_weight_files(tmp_path)
    code = "import sys; from seq2seq_adapters.layout.artifact_folder import verify_weight_files as v\ntry: v(sys.argv[1])\nexcept Exception: pass\nassert 'torch' not in sys.modules"
    assert run_python(["-c", code, str(tmp_path)]).returncode == 0
