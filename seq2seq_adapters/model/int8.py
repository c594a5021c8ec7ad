"""`--quantize int8`: generate with int8 Linear layers on the CPU (dynamic quantisation).

Linear layers are most of a decoding step's time on a CPU (the 30,522-word LM head alone is about
half of the decoder's multiply-adds per token). PyTorch's dynamic quantisation stores their weights
as int8 and quantises each input on the fly, with fp32 everywhere else; docs/performance.md has its
speed and its ROUGE difference. It runs on the CPU only (fbgemm / x86 / qnnpack kernels).
"""

from __future__ import annotations

import copy
import warnings

import torch
from adapters.methods.lora import LoRALinear
from torch import nn
from transformers import EncoderDecoderModel

from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.model.lora_merge import fold_adapter
from seq2seq_adapters.model.marker_tokens import bake_marker_rows

INT8_ENGINES = ("x86", "fbgemm", "qnnpack")
"""PyTorch's quantised CPU backends that run dynamic int8 Linear layers."""


def _as_plain_linear(layer: LoRALinear) -> nn.Linear | None:
    """The layer as an nn.Linear sharing its weights, when it computes nothing else (no unmerged LoRA)."""
    if (layer.loras and not layer.merged) or layer.fan_in_fan_out:
        return None
    plain = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None, device="meta")
    plain.weight, plain.bias = layer.weight, layer.bias
    return plain


def int8_copy(model: EncoderDecoderModel) -> EncoderDecoderModel:
    """A CPU copy of `model` whose Linear layers compute in int8; `model` itself is left as it was.

    A LoRA adapter is folded into its weights first (exact), so the layers it adapts are quantised
    too; adapters wraps every attention and feed-forward Linear in its LoRA class, which PyTorch's
    quantisation does not recognise, so those without an unmerged LoRA become plain Linear layers.
    Gated LoRA cannot be folded: its layers stay fp32."""
    engines = torch.backends.quantized.supported_engines
    if not any(engine in engines for engine in INT8_ENGINES):
        raise S2SAError(f"--quantize int8: this PyTorch build has no int8 CPU engine ({', '.join(INT8_ENGINES)}); use --quantize none")
    model = copy.deepcopy(model).to("cpu").eval()
    bake_marker_rows(model)  # quantize_dynamic swaps the output projection for a module without the hook
    loras = [(name, lora) for module in model.modules() if isinstance(module, LoRALinear) for name, lora in module.loras.items()]
    names = {name for name, _ in loras}
    if len(names) == 1 and not any(lora.use_gating for _, lora in loras):
        fold_adapter(model, names.pop())
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, LoRALinear) and (plain := _as_plain_linear(child)) is not None:
                setattr(parent, child_name, plain)
    with warnings.catch_warnings():  # torch.ao.quantization's notice that it moves to torchao; it works in this torch
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8, inplace=True)
