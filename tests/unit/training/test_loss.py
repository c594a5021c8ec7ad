"""The label-position loss equals EncoderDecoderModel's own loss, value and gradients."""

from __future__ import annotations

import pytest
import torch

from seq2seq_adapters.config.schema import ModelArgs
from seq2seq_adapters.model.builder import build_summarizer
from seq2seq_adapters.training.loss import label_position_loss


def padded_batch(tokenizer) -> dict[str, torch.Tensor]:
    """Two documents and two summaries of different lengths: padded sources, -100 label padding."""
    sources = tokenizer(["#Person1#: Hi, how are you today?\n#Person2#: Fine, thanks.", "A short one."],
                        padding=True, return_tensors="pt")
    targets = tokenizer(["Person1 greets Person2 who is fine.", "Short."], padding=True, return_tensors="pt")
    labels = targets["input_ids"].masked_fill(targets["attention_mask"] == 0, -100)
    return {"input_ids": sources["input_ids"], "attention_mask": sources["attention_mask"], "labels": labels}


def trainable_grads(model) -> dict[str, torch.Tensor]:
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad and p.grad is not None}
    model.zero_grad(set_to_none=True)
    return grads


@pytest.mark.parametrize("overrides", [{"adapter_config": "seq_bn", "leave_out": [0, 1]}, {"train": "all"}])
def test_label_position_loss_matches_model_loss_and_gradients(tiny_bert, overrides):
    summarizer = build_summarizer(ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), **overrides))
    model = summarizer.model.eval()  # no dropout: both passes see the same network
    batch = padded_batch(summarizer.tokenizer)
    assert (batch["labels"] == -100).any(), "the batch must contain label padding"

    reference = model(**batch).loss
    reference.backward()
    expected = trainable_grads(model)
    loss, outputs = label_position_loss(model, batch, model)
    loss.backward()
    got = trainable_grads(model)

    torch.testing.assert_close(loss, reference)
    assert outputs.logits.shape == ((batch["labels"] != -100).sum().item(), model.config.decoder.vocab_size)
    assert expected.keys() == got.keys() and expected
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-4, atol=1e-6, msg=name)


def test_label_position_loss_leaves_no_hook_behind(tiny_bert):
    summarizer = build_summarizer(ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert)))
    model = summarizer.model.eval()
    batch = padded_batch(summarizer.tokenizer)
    label_position_loss(model, batch, model)
    full = model(**batch)
    assert full.logits.shape[:2] == batch["labels"].shape


def test_label_smoothing_matches_the_trainers_label_smoother(tiny_bert):
    from transformers.trainer_pt_utils import LabelSmoother

    summarizer = build_summarizer(ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert)))
    model = summarizer.model.eval()
    batch = padded_batch(summarizer.tokenizer)
    loss, _ = label_position_loss(model, batch, model, label_smoothing=0.1)
    full = model(**batch)
    expected = LabelSmoother(epsilon=0.1)(full, batch["labels"], shift_labels=False)
    torch.testing.assert_close(loss, expected)


def test_gradient_checkpointing_gives_adapters_the_same_gradients(tiny_bert):
    summarizer = build_summarizer(ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), adapter_config="seq_bn", leave_out=[0, 1]))
    model = summarizer.model.train()
    batch = padded_batch(summarizer.tokenizer)
    torch.manual_seed(0)
    label_position_loss(model, batch, model)[0].backward()
    expected = trainable_grads(model)
    model.gradient_checkpointing_enable({"use_reentrant": False})  # what --gradient-checkpointing asks the Trainer for
    assert model.encoder.encoder.gradient_checkpointing and model.decoder.bert.encoder.gradient_checkpointing
    torch.manual_seed(0)
    label_position_loss(model, batch, model)[0].backward()
    got = trainable_grads(model)
    assert expected.keys() == got.keys() and any("adapters" in name for name in got)
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-4, atol=1e-6, msg=name)
