"""Save/load symmetry of adapter folders: every tensor restored, exactly the trained weights stored per `--train`
policy, an artifact of the previous format loaded."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from conftest import FORMAT_1
from safetensors.torch import load_file
from tiny import POLICIES, policy_args

from seq2seq_adapters.config.schema import GenerationArgs, ModelArgs
from seq2seq_adapters.layout.artifact_folder import ArtifactInfo
from seq2seq_adapters.model.artifact_io import load_artifact, save_artifact
from seq2seq_adapters.model.builder import build_summarizer, is_adapter_parameter


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


def test_an_artifact_written_in_the_previous_format_loads(tiny_bert, tmp_path):
    margs = ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), leave_out=[0], adapter_config="seq_bn")  # as format 1 records
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


def perturb_trainable(model: torch.nn.Module) -> None:
    """Stand-in for training: move every trainable tensor away from its initial value."""
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.add_(0.05 * torch.randn_like(parameter))


def logits(summarizer) -> torch.Tensor:
    tokenizer = summarizer.tokenizer
    inputs = tokenizer(["the meeting moves to friday at noon", "we need four chairs"], return_tensors="pt", padding=True,
                       return_token_type_ids=False)
    labels = tokenizer(["meeting on friday", "four chairs"], return_tensors="pt", padding=True).input_ids
    summarizer.model.eval()
    with torch.no_grad():
        return summarizer.model(**inputs, labels=labels).logits


@pytest.mark.parametrize("init", ["self", "random"])
@pytest.mark.parametrize("train", POLICIES)
def test_artifact_holds_exactly_the_trained_weights_and_reloads_the_same_model(tiny_bert, tmp_path, train, init):
    margs = policy_args(tiny_bert, train, init)
    torch.manual_seed(0)
    summarizer = build_summarizer(margs)
    perturb_trainable(summarizer.model)
    info = ArtifactInfo(model=dataclasses.asdict(margs), generation={}, new_weight_names=summarizer.new_weight_names)
    save_artifact(tmp_path / "artifact", summarizer, info)

    saved = set(load_file(str(tmp_path / "artifact" / "non_adapter_weights.safetensors")))
    params = dict(summarizer.model.named_parameters())
    trained = {n for n, p in params.items() if p.requires_grad and not is_adapter_parameter(n, summarizer.adapter_name)}
    frozen_random = set(summarizer.new_weight_names) - trained if init == "random" else {
        n for n in summarizer.new_weight_names if n.startswith("decoder.cls.") and n not in trained
    }
    assert saved == trained | frozen_random  # the frozen copy of self-attention is rebuilt, not stored
    assert not any(name.startswith("encoder.") for name in saved) or train == "all"
    assert (tmp_path / "artifact" / "adapter.safetensors").is_file() != (train == "all")

    torch.manual_seed(1)  # a different random init for whatever the artifact must restore
    loaded, _ = load_artifact(tmp_path / "artifact")
    restored = dict(loaded.model.named_parameters())
    assert restored.keys() == params.keys()
    for name, tensor in params.items():
        assert torch.equal(tensor, restored[name]), name
    assert torch.equal(logits(summarizer), logits(loaded))


def test_first_difference_of_two_adapter_configs():
    from seq2seq_adapters.model.artifact_io import first_difference

    union = {"architecture": "union", "configs": [{"r": 8, "alpha": 8}, {"reduction_factor": 16}]}
    assert first_difference(union, union) is None
    assert first_difference({**union, "configs": [{"r": 8, "alpha": 64}, {"reduction_factor": 16}]}, union) == ("configs[0].alpha", 64, 8)
    assert first_difference({"reduction_factor": 16}, union) == ("configs", None, union["configs"])
    assert first_difference({"r": 8, "new_key": 1}, {"r": 8}) is None  # a key another adapters version writes
