"""Building BERT2BERT summarizers: adapters and leave_out, new weights (cross-attention from self-attention),
trainable flags, dropout, special tokens."""

from __future__ import annotations

import math
import re

import pytest
import torch

from seq2seq_adapters.config.schema import ModelArgs
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.model.builder import (
    build_summarizer,
    configured_leave_out,
    is_adapter_parameter,
    layer_counts,
    parameter_groups,
    parse_adapter_config,
)

ADAPTER = "summarization"
ENCODER_LAYER = re.compile(r"^encoder\.encoder\.layer\.(\d+)\.")
DECODER_LAYER = re.compile(r"^decoder\.bert\.encoder\.layer\.(\d+)\.")


def adapter_layers(model, adapter_name: str = ADAPTER) -> tuple[set[int], set[int]]:
    """Encoder and decoder layer ids that hold parameters of `adapter_name` (`...adapters.<name>` or LoRA/IA3 parts).

    Prefix-tuning parameters live in one shared pool that is registered under the first layer's module;
    which layers use the prefix is read by `prefix_layers` instead.
    """
    encoder, decoder = set(), set()
    for name, _ in model.named_parameters():
        if adapter_name not in name.split(".") or ".prefix_tuning.pool." in name:
            continue
        if match := ENCODER_LAYER.match(name):
            encoder.add(int(match.group(1)))
        elif match := DECODER_LAYER.match(name):
            decoder.add(int(match.group(1)))
    return encoder, decoder


def prefix_layers(model, adapter_name: str = ADAPTER) -> tuple[set[int], set[int]]:
    """Encoder and decoder layer ids whose attention modules prepend the prefix of `adapter_name`."""
    encoder, decoder = set(), set()
    for name, module in model.named_modules():
        if adapter_name not in getattr(module, "prefixes", {}) or not name.endswith(".prefix_tuning"):
            continue
        if match := ENCODER_LAYER.match(name + "."):
            encoder.add(int(match.group(1)))
        elif match := DECODER_LAYER.match(name + "."):
            decoder.add(int(match.group(1)))
    return encoder, decoder


def trainable_names(model) -> set[str]:
    return {name for name, parameter in model.named_parameters() if parameter.requires_grad}


def adapter_names(model, adapter_name: str = ADAPTER) -> set[str]:
    return {name for name, _ in model.named_parameters() if is_adapter_parameter(name, adapter_name)}


def tiny_args(tiny_bert, **overrides) -> ModelArgs:
    return ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), **overrides)


def loss_with_labels(summarizer) -> torch.Tensor:
    """A real forward pass with labels (two documents, two summaries, padded labels ignored)."""
    tokenizer = summarizer.tokenizer
    inputs = tokenizer(
        ["#Person1#: Shall we meet at six tonight?\n#Person2#: Yes, see you at the cinema.", "A short text."],
        padding=True,
        return_tensors="pt",
        return_token_type_ids=False,
    )
    labels = tokenizer(["They meet at six.", "Short."], padding=True, return_tensors="pt")["input_ids"][:, 1:].contiguous()
    labels[labels == tokenizer.pad_token_id] = -100
    return summarizer.model(**inputs, labels=labels).loss


# ---------------------------------------------------------------- the real bundled MiniLM (6 + 6 layers)


@pytest.fixture(scope="module")
def minilm_args():
    """The default recipe's arguments: leave_out not given."""
    return ModelArgs()


@pytest.fixture(scope="module")
def minilm(minilm_args):
    """The default recipe on the bundled MiniLM (built once: ~5 s)."""
    return build_summarizer(minilm_args)


def test_minilm_default_leave_out_skips_layers_0_1_of_encoder_and_decoder(minilm, minilm_args):
    assert minilm_args.leave_out == [0, 1]  # the default resolved, as the run config will record it
    model = minilm.model
    assert layer_counts(model) == (6, 6)
    encoder, decoder = adapter_layers(model)
    assert encoder == {2, 3, 4, 5}
    assert decoder == {2, 3, 4, 5}
    # every adapter parameter sits in one of those layers (none elsewhere, e.g. embeddings or heads)
    names = adapter_names(model)
    assert names
    assert all(ENCODER_LAYER.match(n) or DECODER_LAYER.match(n) for n in names)
    for stack, pattern in (("encoder", ENCODER_LAYER), ("decoder", DECODER_LAYER)):
        for layer in range(2, 6):
            in_layer = [n for n in names if (m := pattern.match(n)) and int(m.group(1)) == layer]
            assert any(f".adapters.{ADAPTER}." in n for n in in_layer), f"no adapter in {stack} layer {layer}"


def test_minilm_new_weights_are_decoder_cross_attention_and_lm_head_parts(minilm):
    model = minilm.model
    params = dict(model.named_parameters())
    cross_attention = {n for n in params if ".crossattention." in n and not is_adapter_parameter(n, ADAPTER)}
    lm_head = {n for n in params if n.startswith("decoder.cls.predictions.")}
    assert len({DECODER_LAYER.match(n).group(1) for n in cross_attention}) == 6
    assert all(n.startswith("decoder.bert.encoder.layer.") for n in cross_attention)
    # MiniLM is a BertModel checkpoint without an MLM head: the transform and the output bias are new,
    # the output projection is tied to the (pretrained) word embeddings and so is not listed separately
    assert lm_head == {
        "decoder.cls.predictions.bias",
        "decoder.cls.predictions.transform.dense.weight",
        "decoder.cls.predictions.transform.dense.bias",
        "decoder.cls.predictions.transform.LayerNorm.weight",
        "decoder.cls.predictions.transform.LayerNorm.bias",
    }
    assert set(minilm.new_weight_names) == cross_attention | lm_head
    # pretrained weights really were loaded into both stacks (same checkpoint), but not shared
    enc_q = params["encoder.encoder.layer.3.attention.self.query.weight"]
    dec_q = params["decoder.bert.encoder.layer.3.attention.self.query.weight"]
    assert torch.equal(enc_q, dec_q)
    assert enc_q.data_ptr() != dec_q.data_ptr()
    assert torch.equal(params["decoder.bert.embeddings.word_embeddings.weight"], params["encoder.embeddings.word_embeddings.weight"])
    # the default trains the adapter and the LM-head transform (the `head` group), nothing else
    assert trainable_names(model) == adapter_names(model) | lm_head
    groups = parameter_groups(minilm)
    assert not groups["base"]["trained"] and not groups["cross-attention"]["trained"] and groups["head"]["trained"]
    assert groups["head"]["count"] + groups["cross-attention"]["count"] == sum(params[n].numel() for n in minilm.new_weight_names)
    assert groups["adapter"]["count"] == sum(params[n].numel() for n in adapter_names(model))
    assert sum(g["count"] for g in groups.values()) == sum(p.numel() for p in model.parameters())


def test_minilm_special_tokens(minilm):
    check_special_tokens(minilm)


# ---------------------------------------------------------------- tiny BERT (4 + 4 layers, 32 wide)


def check_special_tokens(summarizer):
    tokenizer, model = summarizer.tokenizer, summarizer.model
    assert (tokenizer.cls_token, tokenizer.sep_token, tokenizer.pad_token) == ("[CLS]", "[SEP]", "[PAD]")
    assert tokenizer.eos_token_id == tokenizer.sep_token_id
    for target in (model.config, model.generation_config):
        assert target.decoder_start_token_id == tokenizer.cls_token_id
        assert target.eos_token_id == tokenizer.sep_token_id
        assert target.pad_token_id == tokenizer.pad_token_id


def test_tiny_special_tokens_drive_generation(tiny_bert):
    summarizer = build_summarizer(tiny_args(tiny_bert))
    check_special_tokens(summarizer)
    inputs = summarizer.tokenizer(["hello there"], return_tensors="pt", return_token_type_ids=False)
    summarizer.model.eval()
    with torch.inference_mode():
        output = summarizer.model.generate(**inputs, max_new_tokens=3, num_beams=1, do_sample=False)
    assert output[0, 0].item() == summarizer.tokenizer.cls_token_id


def test_tiny_default_trains_adapter_and_head_only(tiny_bert):
    summarizer = build_summarizer(tiny_args(tiny_bert, leave_out=[0, 1]))
    model = summarizer.model
    assert adapter_layers(model) == ({2, 3}, {2, 3})
    new = set(summarizer.new_weight_names)
    head = {n for n, _ in model.named_parameters() if n.startswith("decoder.cls.predictions.")}
    cross_attention = {n for n, _ in model.named_parameters() if ".crossattention." in n and not is_adapter_parameter(n, ADAPTER)}
    assert new == head | cross_attention
    assert not any(n.startswith("encoder.") for n in new)
    assert trainable_names(model) == adapter_names(model) | head
    # the cross-attention is frozen as a copy of the pretrained self-attention
    layer = model.decoder.bert.encoder.layer[2]
    assert torch.equal(layer.crossattention.self.key.weight, layer.attention.self.key.weight)
    assert not layer.crossattention.self.key.weight.requires_grad


def test_tiny_train_adapter_leaves_only_the_adapter_trainable(tiny_bert):
    summarizer = build_summarizer(tiny_args(tiny_bert, train="adapter"))
    model = summarizer.model
    assert summarizer.new_weight_names
    assert trainable_names(model) == adapter_names(model)
    assert adapter_layers(model) == ({0, 1, 2, 3}, {0, 1, 2, 3})
    groups = parameter_groups(summarizer)
    assert [name for name, g in groups.items() if g["trained"]] == ["adapter"]
    assert groups["adapter"]["count"] > 0


def test_tiny_full_finetune_trains_everything_without_adapter(tiny_bert):
    summarizer = build_summarizer(tiny_args(tiny_bert, train="all"))
    model = summarizer.model
    assert summarizer.adapter_name is None
    assert not any(".adapters." in n or "lora" in n or "prefix" in n for n, _ in model.named_parameters())
    assert all(p.requires_grad for p in model.parameters())
    groups = parameter_groups(summarizer)
    assert groups["adapter"]["count"] == 0 and all(g["trained"] for name, g in groups.items() if name != "adapter")
    loss = loss_with_labels(summarizer)
    loss.backward()
    assert model.encoder.encoder.layer[0].attention.self.query.weight.grad is not None


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_attention_dropout_reaches_every_attention_layer(tiny_bert, dropout):
    """0 (the default) lets SDPA pick its fused kernel; the value is set on both stacks and their configs."""
    model = build_summarizer(tiny_args(tiny_bert, attention_dropout=dropout)).model
    rates = {m.dropout_prob for name, m in model.named_modules() if hasattr(m, "dropout_prob")}
    assert rates == {dropout}
    assert model.config.encoder.attention_probs_dropout_prob == dropout
    assert model.config.decoder.attention_probs_dropout_prob == dropout
    assert model.config.decoder.hidden_dropout_prob == 0.0  # s2sa's default, whatever the attention dropout


def test_default_dropout_is_zero():
    assert ModelArgs().attention_dropout == ModelArgs().hidden_dropout == 0.0


@pytest.mark.parametrize("dropout", [None, 0.0, 0.2])
def test_hidden_dropout_reaches_every_hidden_state_dropout(tiny_bert, dropout):
    """None keeps the checkpoint's 0.1; a value reaches both stacks' configs and every hidden-state dropout."""
    model = build_summarizer(tiny_args(tiny_bert, hidden_dropout=dropout)).model
    expected = 0.1 if dropout is None else dropout
    assert model.config.encoder.hidden_dropout_prob == model.config.decoder.hidden_dropout_prob == expected
    rates = {m.p for name, m in model.named_modules() if isinstance(m, torch.nn.Dropout) and name.endswith("output.dropout")}
    assert rates == {expected}


def test_tie_encoder_decoder_shares_weights(tiny_bert):
    tied = build_summarizer(tiny_args(tiny_bert, tie_encoder_decoder=True)).model
    params = dict(tied.named_parameters(remove_duplicate=False))
    for layer in (0, 3):
        enc = params[f"encoder.encoder.layer.{layer}.attention.self.query.weight"]
        dec = params[f"decoder.bert.encoder.layer.{layer}.attention.self.query.weight"]
        assert enc.data_ptr() == dec.data_ptr()
    # cross-attention has no encoder counterpart and stays the decoder's own
    assert "decoder.bert.encoder.layer.0.crossattention.self.query.weight" in params
    untied = build_summarizer(tiny_args(tiny_bert)).model
    untied_params = dict(untied.named_parameters())
    assert (
        untied_params["encoder.encoder.layer.0.attention.self.query.weight"].data_ptr()
        != untied_params["decoder.bert.encoder.layer.0.attention.self.query.weight"].data_ptr()
    )
    # the tied model holds fewer distinct parameters
    assert sum(p.numel() for p in tied.parameters()) < sum(p.numel() for p in untied.parameters())


def test_leave_out_counts_each_stack_separately(tiny_bert, tmp_path):
    """A 4-layer encoder with a 2-layer decoder: id 3 exists only in the encoder and is accepted."""
    from tiny import make_tiny_bert

    two_layers = make_tiny_bert(tmp_path / "two", layers=2)
    margs = ModelArgs(encoder=str(tiny_bert), decoder=str(two_layers), leave_out=[1, 3])
    summarizer = build_summarizer(margs)
    assert layer_counts(summarizer.model) == (4, 2)
    assert adapter_layers(summarizer.model) == ({0, 2}, {0})
    with pytest.raises(S2SAError, match=r"\[4\].*encoder has 4 layers, decoder has 2"):
        build_summarizer(ModelArgs(encoder=str(tiny_bert), decoder=str(two_layers), leave_out=[4]))


# ---------------------------------------------------------------- adapter config strings

VALID = [
    # spec, class name of each part, attributes to check
    ("seq_bn", ["SeqBnConfig"], {"reduction_factor": 16}),
    ("double_seq_bn[reduction_factor=8]", ["DoubleSeqBnConfig"], {"reduction_factor": 8}),
    ("par_bn", ["ParBnConfig"], {}),
    ("lora[r=8,alpha=16]", ["LoRAConfig"], {"r": 8, "alpha": 16}),
    ("ia3", ["IA3Config"], {}),
    ("prefix_tuning", ["PrefixTuningConfig"], {}),
    ("compacter", ["CompacterConfig"], {"phm_dim": 4}),
    ("mam", ["PrefixTuningConfig", "BnConfig"], {}),
    ("unipelt", ["PrefixTuningConfig", "BnConfig", "LoRAConfig"], {}),
]
VALID_SPECS = [spec for spec, _, _ in VALID]


def parts(config) -> list:
    return list(getattr(config, "configs", [config]))


@pytest.mark.parametrize("spec,classes,attributes", VALID, ids=VALID_SPECS)
def test_parse_valid_adapter_configs(spec, classes, attributes):
    plain = parse_adapter_config(spec, [], (6, 6))
    assert [type(p).__name__ for p in parts(plain)] == classes
    for key, value in attributes.items():
        assert getattr(parts(plain)[0], key) == value
    assert all(p.leave_out == [] for p in parts(plain))
    left_out = parse_adapter_config(spec, [0, 1], (6, 6))
    assert len(parts(left_out)) == len(classes)
    assert all(p.leave_out == [0, 1] for p in parts(left_out))
    for key, value in attributes.items():
        assert getattr(parts(left_out)[0], key) == value


@pytest.mark.parametrize(
    "spec,message",
    [
        ("nope", "not a valid adapters config"),
        ("lora[r=x]", "not a valid adapters config"),
        ("seq_bn[foo=1]", "unexpected keyword argument 'foo'"),
        ("seq_bn[reduction_factor=16", "not a valid adapters config"),
        ("", "empty"),
    ],
)
def test_parse_invalid_adapter_configs(spec, message):
    with pytest.raises(S2SAError, match=re.escape(message)):
        parse_adapter_config(spec, [], (6, 6))


def test_leave_out_beyond_both_stacks_names_layer_counts():
    assert parts(parse_adapter_config("seq_bn", [5], (6, 3)))[0].leave_out == [5]
    with pytest.raises(S2SAError) as error:
        parse_adapter_config("seq_bn", [0, 6, 9], (6, 3))
    message = str(error.value)
    assert "[6, 9]" in message and "encoder has 6 layers" in message and "decoder has 3" in message


@pytest.mark.parametrize(
    "spec,counts,expected",
    [
        ("seq_bn", (6, 6), [0, 1]),  # the measured setting: 4 of 6 layers keep their adapter
        ("lora", (12, 6), [0, 1]),
        ("mam", (6, 12), [0, 1]),
        ("seq_bn", (4, 6), []),  # a shallower stack gets adapters everywhere
        ("loreft", (6, 6), []),  # ReFT ignores leave_out: the default must not turn into an error
    ],
)
def test_default_leave_out(spec, counts, expected):
    config = parse_adapter_config(spec, None, counts)
    assert configured_leave_out(config) == expected
    assert configured_leave_out(parse_adapter_config(spec, [], counts)) == []  # [] always means none


def test_default_leave_out_on_a_shallow_model_keeps_every_layer(tiny_bert):
    margs = tiny_args(tiny_bert)
    assert margs.leave_out is None
    summarizer = build_summarizer(margs)
    assert margs.leave_out == []
    assert adapter_layers(summarizer.model) == ({0, 1, 2, 3}, {0, 1, 2, 3})


def test_reft_config_rejects_leave_out():
    assert type(parse_adapter_config("loreft", [], (6, 6))).__name__ == "LoReftConfig"
    with pytest.raises(S2SAError, match="leave_out"):
        parse_adapter_config("loreft", [0], (6, 6))


# compacter's default reduction (32) gives a 1-wide bottleneck on a 32-wide model, which its phm_dim (4)
# cannot split: the tiny model uses reduction 8; the plain string is checked on MiniLM (384 wide) above
TINY_SPECS = [spec if spec != "compacter" else "compacter[reduction_factor=8]" for spec in VALID_SPECS]


@pytest.mark.parametrize("spec", TINY_SPECS)
def test_every_valid_config_adds_and_trains_on_tiny_model(tiny_bert, spec):
    summarizer = build_summarizer(tiny_args(tiny_bert, adapter_config=spec, leave_out=[0, 1]))
    model = summarizer.model
    names = adapter_names(model)
    assert names, f"{spec} added no parameters"
    assert any(n.startswith("encoder.") for n in names) and any(n.startswith("decoder.") for n in names)
    encoder, decoder = adapter_layers(model)
    assert not encoder & {0, 1} and not decoder & {0, 1}
    uses_prefix = spec in ("prefix_tuning", "mam", "unipelt")
    assert prefix_layers(model) == (({2, 3}, {2, 3}) if uses_prefix else (set(), set()))
    assert (encoder, decoder) == ((set(), set()) if spec == "prefix_tuning" else ({2, 3}, {2, 3}))
    assert trainable_names(model) == names | {n for n in summarizer.new_weight_names if n.startswith("decoder.cls.")}  # adapter + head
    model.train()
    loss = loss_with_labels(summarizer)
    assert math.isfinite(loss.item()) and loss.item() > 0
    loss.backward()
    params = dict(model.named_parameters())
    assert any(params[n].grad is not None and params[n].grad.abs().sum() > 0 for n in names), "adapter gets no gradient"
    frozen = [p for n, p in params.items() if not p.requires_grad]
    assert frozen and all(p.grad is None for p in frozen)


def test_compacter_too_narrow_for_tiny_model_is_a_one_line_error(tiny_bert):
    with pytest.raises(S2SAError, match="cannot be added.*phm_dim"):
        build_summarizer(tiny_args(tiny_bert, adapter_config="compacter"))


def test_plain_compacter_builds_on_minilm_width():
    summarizer = build_summarizer(ModelArgs(adapter_config="compacter", leave_out=[0, 1]))
    assert adapter_layers(summarizer.model) == ({2, 3, 4, 5}, {2, 3, 4, 5})
    loss = loss_with_labels(summarizer)
    assert math.isfinite(loss.item())


@pytest.mark.parametrize("name", ["decoder", "crossattention", "3"])
def test_an_adapter_named_like_a_module_is_refused_by_the_loaded_model(tiny_bert, name):
    """The model's own parameter-name parts are reserved too (ModelArgs alone skips the config check)."""
    with pytest.raises(S2SAError, match=rf"adapter_name '{name}' is a part of the model's parameter names.*reserved: .*crossattention"):
        build_summarizer(tiny_args(tiny_bert, adapter_name=name))


def test_an_adapter_whose_name_claims_other_weights_is_refused(tiny_bert, monkeypatch):
    """The count check behind the name check: the parameters carrying the name are exactly those added."""
    import seq2seq_adapters.model.builder as modeling

    monkeypatch.setattr(modeling, "reserved_name_problem", lambda name, reserved: None)
    with pytest.raises(S2SAError, match=r"adapter_name 'decoder' marks [\d,]+ parameters as the adapter's, but the adapter added [\d,]+"):
        build_summarizer(tiny_args(tiny_bert, adapter_name="decoder"))


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
