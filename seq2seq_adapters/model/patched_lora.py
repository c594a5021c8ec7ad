"""adapters' LoRA linear layer, minus the passes over its output that change no number.

adapters 1.3.0 computes an unmerged LoRA layer as `out + ((x @ A.T @ B.T) * scaling) * 1.0`: the
low-rank product is written out, multiplied by the scaling, multiplied again by 1.0 ("scaling already
applied"), then added, and autograd repeats the two multiplications backwards. Each is a full pass over a
batch x length x hidden tensor, memory-bound on CPU: about 3% of a training step with s2sa's default
adapter in its profile, 1.01-1.04x per step and 1.05x in greedy generation measured (docs/studies/performance-history.md).
Here the product, the scaling and the sum are one `torch.addmm(out, x @ A.T, B.T, alpha=scaling)`. With
scaling 1 (alpha = r, s2sa's default adapter) or a power of two, its result and every gradient are
bit-identical; other scalings can round differently in the gradients (tests/unit/model/test_patched_lora.py).
Only the plain case takes this path: one active LoRA adapter, no gating, no DoRA, not merged, not transposed
weights; anything else (MTL-LoRA, IA3, VeRA, compositions) runs adapters' own forward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from adapters.composition import Stack
from adapters.methods.lora import LoRA, LoRALinear

stock_forward = LoRALinear.forward


def plain_lora(layer: LoRALinear) -> LoRA | None:
    """The layer's one active plain LoRA module, or None when adapters' own forward must run."""
    if layer.merged or layer.fan_in_fan_out:
        return None
    setup = layer.get_active_setup()
    if isinstance(setup, Stack) and len(setup) == 1:
        setup = setup[0]
    if not isinstance(setup, str) or setup not in layer.loras:
        return None
    lora = layer.loras[setup]
    if type(lora) is not LoRA or lora.use_gating or lora.use_dora:
        return None
    return lora


def fused_forward(self: LoRALinear, input_states: torch.Tensor) -> torch.Tensor:
    """LoRALinear.forward with the low-rank update summed into the output by one addmm."""
    lora = plain_lora(self)
    if lora is None:
        return stock_forward(self, input_states)
    output = F.linear(input_states, self.weight, self.bias)
    low_rank = lora.lora_dropout(input_states) @ lora.lora_A.t()
    fused = torch.addmm(output.flatten(0, -2), low_rank.flatten(0, -2), lora.lora_B.t(), alpha=lora.scaling)
    return fused.view(output.shape)


def use_fused_lora(enabled: bool = True) -> None:
    """Install the fused forward on adapters' LoRA linear layers (or adapters' own again, for benchmarks)."""
    LoRALinear.forward = fused_forward if enabled else stock_forward
