"""The `--train` policy: parsing, group counts, what an artifact holds, reload and resume per policy."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tiny import tiny_run_config, train_tiny

from seq2seq_adapters.config.legacy import upgrade_legacy_keys
from seq2seq_adapters.config.loading import load_config
from seq2seq_adapters.config.policy import TrainPolicy, parameter_group, policy_from_flags
from seq2seq_adapters.config.schema import ModelArgs, RunConfig
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.model.artifact_io import ArtifactInfo, load_artifact, save_artifact
from seq2seq_adapters.model.builder import build_summarizer, is_adapter_parameter, parameter_groups

POLICIES = ["adapter", "adapter,head", "adapter,cross-attention", "adapter,new", "all"]


@pytest.mark.parametrize(
    "text, groups",
    [
        ("adapter", {"adapter"}),
        ("adapter,head", {"adapter", "head"}),
        (" head , adapter ", {"adapter", "head"}),
        ("adapter,new", {"adapter", "head", "cross-attention"}),
        ("adapter,head,cross-attention", {"adapter", "head", "cross-attention"}),
        ("all", {"all"}),
    ],
)
def test_policy_parses_groups_and_shorthands(text, groups):
    assert TrainPolicy.parse(text).groups == groups


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "--train: nothing; expected a comma-separated list of adapter, head, cross-attention, new, all"),
        ("adapter,heads", "--train: unknown 'heads'"),
        ("all,head", "'all' (full fine-tuning, no adapter) stands alone"),
        ("head", "leaves out the adapter; add 'adapter'"),
        ("new", "leaves out the adapter"),
    ],
)
def test_bad_policies_are_one_line_errors(text, message):
    with pytest.raises(S2SAError) as error:
        TrainPolicy.parse(text)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_policy_spelling_is_canonical():
    assert str(TrainPolicy.parse("head,adapter")) == "adapter,head"
    assert str(TrainPolicy.parse("adapter,new")) == "adapter,head,cross-attention"
    assert str(TrainPolicy.parse("all")) == "all"


@pytest.mark.parametrize(
    "name, group",
    [
        ("decoder.cls.predictions.transform.dense.weight", "head"),
        ("decoder.cls.predictions.bias", "head"),
        ("decoder.bert.encoder.layer.2.crossattention.self.query.weight", "cross-attention"),
        ("decoder.bert.encoder.layer.2.attention.self.query.weight", "base"),
        ("encoder.encoder.layer.0.output.dense.weight", "base"),
    ],
)
def test_parameter_groups_by_name(name, group):
    assert parameter_group(name, is_adapter=False) == group
    assert parameter_group(name, is_adapter=True) == "adapter"


def test_legacy_flags_become_a_policy():
    assert upgrade_legacy_keys({"full_finetune": True, "freeze_new_weights": False})["train"] == "all"
    assert upgrade_legacy_keys({"full_finetune": False, "freeze_new_weights": True})["train"] == "adapter"
    assert upgrade_legacy_keys({"full_finetune": False, "freeze_new_weights": False}) == {"train": "adapter,new"}
    assert upgrade_legacy_keys({"train": "adapter,head", "freeze_new_weights": False}) == {"train": "adapter,head"}
    with pytest.raises(S2SAError, match="freeze_new_weights and train both say which weights train"):
        upgrade_legacy_keys({"train": "adapter,head", "freeze_new_weights": True})


def test_alias_flags_map_to_train_and_conflict_with_it():
    assert policy_from_flags(None, True, None) == "all"
    assert policy_from_flags(None, None, True) == "adapter"
    assert policy_from_flags(None, None, False) == "adapter,new"
    assert policy_from_flags("adapter,head", None, None) == "adapter,head"
    with pytest.raises(S2SAError, match="--full-finetune and --train both say"):
        policy_from_flags("adapter", True, None)


def test_old_run_configs_and_artifacts_are_read(tmp_path):
    """Runs and artifacts written before `train` existed state full_finetune/freeze_new_weights."""
    old = tmp_path / "config.yaml"
    old.write_text("model:\n  freeze_new_weights: true\n  full_finetune: false\n")
    assert load_config(old).model.train == "adapter"
    info = ArtifactInfo(model={"full_finetune": True, "freeze_new_weights": False}, generation={}, new_weight_names=[])
    assert info.model_args.full_finetune
    with pytest.raises(S2SAError, match="--train: unknown 'heads'"):
        RunConfig(model=ModelArgs(train="adapter,heads"))


def tiny_args(tiny_bert: Path, train: str, init: str = "self") -> ModelArgs:
    return ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), adapter_config="lora[r=4]", train=train,
                     leave_out=[] if train == "all" else [0],  # s2sa.json is checked like a run config: no leave_out without an adapter
                     cross_attention_init=init)


@pytest.mark.parametrize("train", POLICIES)
def test_group_counts_and_trainable_flags_per_policy(tiny_bert, train):
    summarizer = build_summarizer(tiny_args(tiny_bert, train))
    policy = TrainPolicy.parse(train)
    groups = parameter_groups(summarizer)
    params = dict(summarizer.model.named_parameters())
    by_group: dict[str, set[str]] = {name: set() for name in groups}
    for name in params:
        by_group[parameter_group(name, is_adapter_parameter(name, summarizer.adapter_name))].add(name)
    assert sum(g["count"] for g in groups.values()) == sum(p.numel() for p in params.values())
    for group, names in by_group.items():
        assert groups[group]["count"] == sum(params[n].numel() for n in names), group
        trains = policy.trains(group) and bool(names)
        assert groups[group]["trained"] == trains, group
        assert all(params[n].requires_grad == trains for n in names), group
    assert (groups["adapter"]["count"] == 0) == policy.full
    assert by_group["head"] == {n for n in summarizer.new_weight_names if n.startswith("decoder.cls.")}
    assert by_group["cross-attention"] == {n for n in summarizer.new_weight_names if ".crossattention." in n}


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
    margs = tiny_args(tiny_bert, train, init)
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


def resume_config(tiny_bert: Path, data: Path, output_dir: Path, train: str):
    return tiny_run_config(
        tiny_bert, data, output_dir, model={"leave_out": [0, 1], "train": train},
        data={"max_source_length": 48, "max_target_length": 16, "max_eval_samples": 2},
        train={"max_steps": 4, "learning_rate": 3e-3, "save_steps": 2}, generation={"batch_size": 2},
    )


@pytest.mark.parametrize("train", ["adapter,head", "adapter,cross-attention"])
def test_resume_restores_exactly_the_trained_groups(tiny_bert, dialog_jsonl, tmp_path, train):
    """Resuming from checkpoint-2 ends with the weights of the run that went on from there."""
    full = train_tiny(resume_config(tiny_bert, dialog_jsonl, tmp_path / "full", train)).output_dir
    checkpoint = full / "checkpoints" / "checkpoint-2" / "adapter"
    policy = TrainPolicy.parse(train)
    stored = load_file(str(checkpoint / "non_adapter_weights.safetensors"))
    # the trained groups, plus the head: frozen or not, the tiny BERT has none, so it starts random and is kept
    assert {parameter_group(name, False) for name in stored} == (policy.groups - {"adapter"}) | {"head"}

    resumed = tmp_path / "resumed"
    shutil.copytree(full, resumed)
    shutil.rmtree(resumed / "checkpoints" / "checkpoint-4")
    shutil.rmtree(resumed / "adapter")
    (resumed / "run.json").unlink()
    config = resume_config(tiny_bert, dialog_jsonl, resumed, train)
    train_tiny(config, resume=resumed)
    for name in ("adapter.safetensors", "non_adapter_weights.safetensors"):
        ours, theirs = load_file(str(resumed / "adapter" / name)), load_file(str(full / "adapter" / name))
        assert ours.keys() == theirs.keys(), name
        assert all(torch.equal(ours[key], theirs[key]) for key in ours), name
    record = json.loads((resumed / "run.json").read_text())
    assert record["config"]["model"]["train"] == train
    assert {name for name, g in record["parameters"]["groups"].items() if g["trained"]} == policy.groups
