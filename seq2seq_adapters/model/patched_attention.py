"""`adapters.init`, minus the needless copies adapters 1.3.0 makes in every attention call (and, through
fused_lora.py, the needless passes of its LoRA layers).

adapters' attention classes call `match_attn_matrices_for_parallel(query, key, value)` before every
scaled-dot-product attention, to give the three the same batch size under a `Parallel` composition. It
does so with `tensor.repeat(ratio, 1, 1, 1)`, and `repeat` copies even when the ratio is 1. Without
`Parallel` (s2sa never composes adapters), that is three full copies per attention call for nothing.
In beam search the key and value are the cached cross-attention states (batch x beams x heads x source
length), copied in every layer at every decoding step: a third of CPU generation time
(docs/studies/performance-history.md). No setting of adapters avoids the call, so the copy-free version below replaces
it in adapters' model modules that imported it; with unequal batch sizes it defers to adapters' own.
"""

from __future__ import annotations

import sys

import adapters
import torch
from adapters.composition import match_attn_matrices_for_parallel as stock_match

from seq2seq_adapters.model.patched_lora import use_fused_lora

FUNCTION_NAME = "match_attn_matrices_for_parallel"


def match_without_copies(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """adapters' match, returning the tensors themselves when their batch sizes already agree."""
    if query.shape[0] == key.shape[0] == value.shape[0]:
        return query, key, value
    return stock_match(query, key, value)


def use_copy_free_attention(enabled: bool = True) -> list[str]:
    """Install the copy-free match (or adapters' own again, for benchmarks of the stock pipeline).

    adapters imports a model family's module only when `adapters.init` meets that family, so this runs
    after every init; it returns the modules it changed."""
    replacement = match_without_copies if enabled else stock_match
    changed = []
    for name, module in list(sys.modules.items()):
        if name.startswith("adapters.models.") and getattr(module, FUNCTION_NAME, None) in (stock_match, match_without_copies):
            setattr(module, FUNCTION_NAME, replacement)
            changed.append(name)
    return changed


def use_fast_adapter_code(enabled: bool = True) -> None:
    """Copy-free attention matching and fused LoRA layers, or adapters' own code for both (benchmark baselines)."""
    use_copy_free_attention(enabled)
    use_fused_lora(enabled)


def init_adapters(model: torch.nn.Module) -> None:
    """`adapters.init(model)` with copy-free attention matching and fused LoRA layers."""
    adapters.init(model)
    use_fast_adapter_code()
