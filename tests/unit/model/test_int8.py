"""--quantize int8: an int8 CPU copy of the model that generates in input order and leaves the original alone."""

from __future__ import annotations

import pytest
import torch
from torch.ao.nn.quantized.dynamic import Linear as DynamicInt8Linear

from seq2seq_adapters.config.schema import GenerationArgs, ModelArgs
from seq2seq_adapters.generation.decoding import generate_summaries
from seq2seq_adapters.model.builder import build_summarizer
from seq2seq_adapters.model.int8 import int8_copy

DOCUMENTS = [
    "#Person1#: Where is the station? #Person2#: Two blocks north, next to the bank.",
    "Hi.",
    "A longer document, with more words in it, about a meeting that moved to Friday at ten.",
    "Short one here.",
]


@pytest.fixture(scope="module")
def summarizer(tiny_bert):
    torch.manual_seed(0)
    return build_summarizer(ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert)))  # LoRA | double_seq_bn


def _logits(model, batch):
    with torch.inference_mode():
        return model(**batch).logits


def test_int8_copy_quantises_every_linear_and_keeps_the_numbers_close(summarizer):
    model, tokenizer = summarizer.model.eval(), summarizer.tokenizer
    with torch.no_grad():  # a trained LoRA: B is zero at init, which would make folding trivially exact
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.05)
    batch = dict(tokenizer(DOCUMENTS, padding=True, return_tensors="pt", return_token_type_ids=False))
    batch["decoder_input_ids"] = tokenizer(["a summary of it"] * len(DOCUMENTS), return_tensors="pt")["input_ids"]
    before = {name: p.clone() for name, p in model.state_dict().items()}
    reference = _logits(model, batch)
    quantized = int8_copy(model)
    assert not any(type(m) is torch.nn.Linear for m in quantized.modules())  # adapters' LoRA layers included
    assert sum(isinstance(m, DynamicInt8Linear) for m in quantized.modules()) > 0
    error = (_logits(quantized, batch) - reference).abs().max() / reference.abs().max()
    assert error < 0.05
    after = model.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)  # LoRA not folded into the original
    assert torch.equal(_logits(model, batch), reference)


def test_int8_generation_returns_summaries_in_input_order(summarizer):
    gen = GenerationArgs(num_beams=2, max_new_tokens=6, min_new_tokens=2, batch_size=4, quantize="int8")
    model, tokenizer = summarizer.model, summarizer.tokenizer
    forward = generate_summaries(model, tokenizer, DOCUMENTS, gen, 32)
    backward = generate_summaries(model, tokenizer, DOCUMENTS[::-1], gen, 32)
    assert len(forward) == len(DOCUMENTS) and all(forward)
    assert backward == forward[::-1]
    assert next(model.parameters()).dtype == torch.float32 and not any(isinstance(m, DynamicInt8Linear) for m in model.modules())

