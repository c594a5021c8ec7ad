"""Folding a LoRA-family adapter into the Linear layers it adapts: the same logits without the adapter's
extra work, biases included ((IA)^3 scales the bias term too, which adapters' own merge leaves out)."""

from __future__ import annotations

import pytest
import torch
from adapters.methods.lora import LoRALayer

from seq2seq_adapters.config.schema import ModelArgs
from seq2seq_adapters.model.builder import build_summarizer
from seq2seq_adapters.model.lora_merge import fold_adapter

INPUT_IDS = torch.tensor([[101, 2023, 2003, 1037, 3231, 102]])
DECODER_INPUT_IDS = torch.tensor([[101, 2023, 2003]])


def trained(tiny_bert, adapter_config: str):
    """A tiny summarizer whose adapter and biases are far from their initial values (LoRA's B starts at 0,
    (IA)^3's scales at 1 and the tiny BERT's biases at 0: each would hide a missing term)."""
    torch.manual_seed(1)
    summarizer = build_summarizer(ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), adapter_config=adapter_config))
    with torch.no_grad():
        for name, parameter in summarizer.model.named_parameters():
            if name.endswith("bias") or summarizer.adapter_name in name.split("."):
                parameter.add_(torch.randn_like(parameter) * 0.5)
    return summarizer


def logits(model) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(input_ids=INPUT_IDS, decoder_input_ids=DECODER_INPUT_IDS).logits


@pytest.mark.parametrize("adapter_config", ["lora[r=4,alpha=8]", "ia3"])
def test_folding_keeps_the_logits_and_merges_every_layer(tiny_bert, adapter_config):
    summarizer = trained(tiny_bert, adapter_config)
    expected = logits(summarizer.model)
    fold_adapter(summarizer.model, summarizer.adapter_name)
    layers = [m for m in summarizer.model.modules() if isinstance(m, LoRALayer) and summarizer.adapter_name in m.loras]
    assert layers and all(layer.merged for layer in layers)
    torch.testing.assert_close(logits(summarizer.model), expected, atol=1e-4, rtol=1e-4)


def test_ia3_needs_its_bias_folded_too(tiny_bert):
    """adapters' merge_adapter alone rewrites the weights of (IA)^3 layers but not their biases: other logits."""
    summarizer = trained(tiny_bert, "ia3")
    expected = logits(summarizer.model)
    for module in summarizer.model.modules():
        if isinstance(module, LoRALayer) and summarizer.adapter_name in module.loras:
            module.merge_adapter(summarizer.adapter_name)
    assert not torch.allclose(logits(summarizer.model), expected, atol=1e-3)
