"""Save/load symmetry of adapter folders, and cross-attention initialised from self-attention."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from seq2seq_adapters.artifacts import ArtifactInfo, load_artifact, save_artifact
from seq2seq_adapters.config import ModelArgs
from seq2seq_adapters.modeling import build_summarizer


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
