"""Markers (#Person1#) as single tokens in a built model: the tokenizer, grown embeddings with trainable marker
rows, which rows get gradients, the rows baked into plain matrices; markers found in training texts."""

from __future__ import annotations

import pytest
import torch
from tiny import MARKERS
from transformers import AutoTokenizer

from seq2seq_adapters.config.schema import ModelArgs
from seq2seq_adapters.config.value_rules import MARKERS_MIN_COUNT
from seq2seq_adapters.evaluation.reports import parameter_summary, trains
from seq2seq_adapters.model.builder import build_summarizer, parameter_groups
from seq2seq_adapters.model.int8 import int8_copy
from seq2seq_adapters.model.marker_tokens import bake_marker_rows, discover_markers


def test_auto_takes_markers_seen_often_enough_most_frequent_first():
    texts = ["#Person2#: hi #Person1#", "#Person2#: yes #Person2#", "#Person1# #Person2#", "#Person1# #PErson2#", "#Person3#"]
    assert discover_markers(texts) == ["#Person2#", "#Person1#"]
    assert MARKERS_MIN_COUNT == 3
    assert discover_markers(texts, min_count=1) == ["#Person2#", "#Person1#", "#PErson2#", "#Person3#"]


@pytest.fixture(scope="module")
def marked(tiny_bert):
    return build_summarizer(ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), adapter_config="seq_bn", marker_tokens=MARKERS))


def test_markers_are_single_tokens_with_rows_started_at_their_pieces_mean(marked, tiny_bert):
    tokenizer, model = marked.tokenizer, marked.model
    plain = AutoTokenizer.from_pretrained(tiny_bert)
    ids = tokenizer("#Person1#: hi, #Person2#!", add_special_tokens=False)["input_ids"]
    assert ids[0] == len(plain) and ids[4] == len(plain) + 1
    assert tokenizer.decode(ids) == "#Person1# : hi, #Person2#!"
    pieces = plain("#Person1#", add_special_tokens=False)["input_ids"]
    for stack in (model.encoder, model.decoder):
        embedding = stack.get_input_embeddings()
        assert embedding.num_embeddings == len(plain) + 2
        torch.testing.assert_close(embedding.marker_rows[0], embedding.weight[pieces].mean(0))
    assert model.decoder.get_output_embeddings().marker_rows is model.decoder.get_input_embeddings().marker_rows
    assert model.config.decoder.vocab_size == len(tokenizer)
    # the decoder's rows train, the encoder's stay at their start (encoder_marker_rows: frozen, the default)
    assert parameter_groups(marked)["markers"] == {"count": 2 * 2 * 32, "trained": True, "trained_count": 2 * 32}
    summary = parameter_summary(parameter_groups(marked))
    assert trains(summary["groups"]["markers"]) == "64 of them"  # the console's and model card's cell
    assert summary["trained"] == sum(p.numel() for p in marked.model.parameters() if p.requires_grad)
    assert trains({"count": 128, "trained": True}) == "yes"  # run.json of a run before trained_count


@pytest.fixture(scope="module")
def marked_both(tiny_bert):
    """Markers whose encoder rows train too (`encoder_marker_rows: train`)."""
    return build_summarizer(
        ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), adapter_config="seq_bn", marker_tokens=MARKERS, encoder_marker_rows="train")
    )


@pytest.mark.parametrize("encoder_rows", ["frozen", "train"])
def test_only_the_marker_rows_of_the_embeddings_get_gradients(marked, marked_both, encoder_rows):
    """The decoder's marker rows get gradients; the encoder's only with encoder_marker_rows: train. Frozen,
    nothing below the first adapter needs a gradient, so backward skips the encoder's lowest layers."""
    summarizer = marked_both if encoder_rows == "train" else marked
    model = summarizer.model.train()
    ids = summarizer.tokenizer(["#Person1#: hi #Person2#"], return_tensors="pt")["input_ids"]
    output = model(input_ids=ids, labels=ids)
    output.loss.backward()
    assert output.logits.shape[-1] == len(summarizer.tokenizer)
    for stack in (model.encoder, model.decoder):
        embedding = stack.get_input_embeddings()
        assert not embedding.weight.requires_grad
        if stack is model.encoder and encoder_rows == "frozen":
            assert not embedding.marker_rows.requires_grad and embedding.marker_rows.grad is None
        else:
            assert embedding.marker_rows.grad is not None and embedding.marker_rows.grad.abs().sum() > 0
    model.zero_grad()
    # the rows in the (frozen) matrices are not what the model reads: moving the trainable rows moves the logits
    with torch.no_grad():
        before = model(input_ids=ids, labels=ids).logits
        model.encoder.get_input_embeddings().marker_rows.add_(1.0)
        after = model(input_ids=ids, labels=ids).logits
        model.encoder.get_input_embeddings().marker_rows.sub_(1.0)
    assert not torch.allclose(before, after)


def test_baking_gives_a_plain_model_with_the_same_logits(marked, tiny_bert):
    model = marked.model.eval()
    ids = marked.tokenizer(["#Person1#: hi #Person2#"], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        model.decoder.get_input_embeddings().marker_rows.normal_()
        model.encoder.get_input_embeddings().marker_rows.normal_()
        expected = model(input_ids=ids, decoder_input_ids=ids).logits
        baked = build_summarizer(ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), adapter_config="seq_bn", marker_tokens=MARKERS))
        baked.model.load_state_dict(model.state_dict())
        bake_marker_rows(baked.model)
        assert not any("marker_rows" in name for name, _ in baked.model.named_parameters())
        assert not any(module._forward_hooks for module in (baked.model.encoder.get_input_embeddings(), baked.model.decoder.get_output_embeddings()))
        torch.testing.assert_close(baked.model.eval()(input_ids=ids, decoder_input_ids=ids).logits, expected)
        quantised = int8_copy(model)(input_ids=ids, decoder_input_ids=ids).logits
    assert quantised.shape == expected.shape
    assert (quantised - expected).abs().max() < 0.05 * expected.abs().max()
    assert hasattr(model.encoder.get_input_embeddings(), "marker_rows")  # int8_copy left the model as it was
