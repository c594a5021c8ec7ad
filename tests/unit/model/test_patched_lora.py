"""Fused LoRA layers: the same numbers as adapters' own LoRA forward, in one addmm."""

from __future__ import annotations

import pytest
import torch
from adapters.methods.lora import LoRALinear
from tiny import stock_and_fast

from seq2seq_adapters.config.schema import ModelArgs
from seq2seq_adapters.model.builder import build_summarizer
from seq2seq_adapters.model.patched_lora import fused_forward, plain_lora, stock_forward, use_fused_lora


def _summarizer(tiny_bert, adapter_config: str):
    summarizer = build_summarizer(ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), adapter_config=adapter_config))
    torch.manual_seed(1)
    for name, parameter in summarizer.model.named_parameters():
        if "lora_B" in name:  # LoRA starts with B = 0: give the update something to add
            torch.nn.init.normal_(parameter, std=0.5)
    return summarizer


def _stock_and_fused(summarizer):
    assert LoRALinear.forward is fused_forward  # build_summarizer installs it
    stock, fused = stock_and_fast(summarizer, use_fused_lora)
    assert any("lora_A" in name for name in fused[1]) and stock[1].keys() == fused[1].keys()
    return stock, fused


@pytest.mark.parametrize("adapter_config", ["lora[r=8,alpha=8,attn_matrices=['q','k','v']]|double_seq_bn", "lora[r=4,alpha=8]"])
def test_fused_lora_changes_no_number(tiny_bert, adapter_config):
    """Scaling 1 (s2sa's default adapter) or a power of two: loss, every gradient and the summaries are bit-identical."""
    stock, fused = _stock_and_fused(_summarizer(tiny_bert, adapter_config))
    assert torch.equal(stock[0], fused[0])
    assert all(torch.equal(stock[1][k], fused[1][k]) for k in stock[1])
    assert stock[2] == fused[2]


def test_fused_lora_other_scalings_differ_only_by_rounding(tiny_bert):
    """alpha/r = 1.5: addmm applies the scaling inside the product, so gradients may round differently."""
    stock, fused = _stock_and_fused(_summarizer(tiny_bert, "lora[r=8,alpha=12]"))
    assert torch.allclose(stock[0], fused[0], rtol=1e-6)
    assert all(torch.allclose(stock[1][k], fused[1][k], rtol=1e-4, atol=1e-7) for k in stock[1])


def _lora_layers(model):
    return [module for module in model.modules() if isinstance(module, LoRALinear) and module.loras]


def test_plain_lora_takes_the_fused_path(tiny_bert):
    layers = _lora_layers(_summarizer(tiny_bert, "lora[r=4]").model)
    assert layers and all(plain_lora(layer) is not None for layer in layers)


@pytest.mark.parametrize("adapter_config", ["lora[r=4,use_gating=True]", "ia3"])
def test_other_lora_kinds_run_adapters_own_forward(tiny_bert, adapter_config):
    """Gated LoRA and IA3 (which scales instead of adding) are left to adapters."""
    layers = _lora_layers(_summarizer(tiny_bert, adapter_config).model)
    assert layers and all(plain_lora(layer) is None for layer in layers)


def test_merged_lora_runs_adapters_own_forward(tiny_bert):
    summarizer = _summarizer(tiny_bert, "lora[r=4]")
    summarizer.model.merge_adapter(summarizer.adapter_name)
    layers = _lora_layers(summarizer.model)
    assert layers and all(plain_lora(layer) is None for layer in layers)
    x = torch.randn(2, 3, layers[0].in_features)
    assert torch.equal(fused_forward(layers[0], x), stock_forward(layers[0], x))
