"""Fold a LoRA-family adapter into the Linear weights it adapts: for `export-adapter --merge` and int8 inference."""

from __future__ import annotations

import torch
from adapters.context import ForwardContext
from adapters.methods.lora import LoRALayer
from transformers import EncoderDecoderModel


def fold_adapter(model: EncoderDecoderModel, name: str) -> None:
    """`merge_adapter` every LoRA layer of `name` into its Linear weights, and its bias too.

    adapters' merge only rewrites the weight matrix; (IA)^3 and DoRA also scale the layer's bias
    term in their forward pass, so the merged bias is taken from the unmerged layer at input zero.
    """
    model.eval()
    with torch.no_grad(), ForwardContext(model, torch.empty(0, 1)):
        shared = getattr(model.base_model, "shared_parameters", None)
        if shared:
            ForwardContext.get_context().shared_parameters = shared
        for module in model.modules():
            if not isinstance(module, LoRALayer) or name not in module.loras:
                continue
            bias = getattr(module, "bias", None)
            at_zero = None
            if bias is not None:
                at_zero = module(torch.zeros(1, 1, module.in_features, dtype=bias.dtype, device=bias.device))
            module.merge_adapter(name)
            if at_zero is not None:
                bias.data.copy_(at_zero.reshape(-1))
