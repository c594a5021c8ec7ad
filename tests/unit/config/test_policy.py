"""The `--train` policy: parsing, its groups and shorthands, the alias flags, and the groups and trainable flags
of a built model per policy."""

from __future__ import annotations

import pytest
from tiny import POLICIES, policy_args

from seq2seq_adapters.config.policy import TrainPolicy, parameter_group, policy_from_flags
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.model.builder import build_summarizer, is_adapter_parameter, parameter_groups


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


def test_alias_flags_map_to_train_and_conflict_with_it():
    assert policy_from_flags(None, True, None) == "all"
    assert policy_from_flags(None, None, True) == "adapter"
    assert policy_from_flags(None, None, False) == "adapter,new"
    assert policy_from_flags("adapter,head", None, None) == "adapter,head"
    with pytest.raises(S2SAError, match="--full-finetune and --train both say"):
        policy_from_flags("adapter", True, None)


@pytest.mark.parametrize("train", POLICIES)
def test_group_counts_and_trainable_flags_per_policy(tiny_bert, train):
    summarizer = build_summarizer(policy_args(tiny_bert, train))
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
