"""The training loss: EncoderDecoderModel's cross-entropy, with vocabulary logits only where labels are."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from transformers import EncoderDecoderModel
from transformers.modeling_outputs import Seq2SeqLMOutput
from transformers.models.encoder_decoder.modeling_encoder_decoder import shift_tokens_right

IGNORE_INDEX = -100


@contextlib.contextmanager
def logits_only_at(model: EncoderDecoderModel, keep: torch.Tensor) -> Iterator[None]:
    """Feed the vocabulary projection only the decoder positions in `keep` (batch x length, bool)."""
    handle = model.decoder.get_output_embeddings().register_forward_pre_hook(lambda module, args: (args[0][keep],))
    try:
        yield
    finally:
        handle.remove()


def label_position_loss(
    model: torch.nn.Module, inputs: dict[str, torch.Tensor], unwrapped: EncoderDecoderModel, label_smoothing: float = 0.0
) -> tuple[torch.Tensor, Seq2SeqLMOutput]:
    """The same mean cross-entropy EncoderDecoderModel computes from `labels`, without the padded positions' logits.

    The model itself shifts labels into decoder inputs, projects every position onto the vocabulary and
    then ignores the padded ones. Here decoder inputs and mask are built exactly as the model builds
    them, and only real label positions are projected: on CPU the 30k-column projection and its
    softmax are about a fifth of a training step, and a third of summary positions are padding.
    `model` may be a DDP wrapper around `unwrapped`; the returned logits are (label tokens x vocabulary).
    `label_smoothing` is the Trainer's label_smoothing_factor (its LabelSmoother computes the same loss).
    """
    inputs = dict(inputs)
    labels = inputs.pop("labels")
    config = unwrapped.config
    if "decoder_input_ids" not in inputs:
        inputs["decoder_input_ids"] = shift_tokens_right(labels, config.pad_token_id, config.decoder_start_token_id)
        inputs.setdefault("decoder_attention_mask", (inputs["decoder_input_ids"] != config.pad_token_id).long())
    keep = labels != IGNORE_INDEX
    with logits_only_at(unwrapped, keep):
        outputs = model(**inputs)
    loss = F.cross_entropy(outputs.logits, labels[keep], label_smoothing=label_smoothing)
    outputs.loss = loss
    return loss, outputs
