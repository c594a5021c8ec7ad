"""Greedy decoding that drops finished summaries from its batch, and the allocator setting of s2sa's commands."""

from __future__ import annotations

import ctypes

import pytest
import torch
from tiny import VARIED_DOCUMENTS
from typer.testing import CliRunner

from seq2seq_adapters.cli import app
from seq2seq_adapters.config.schema import GenerationArgs, ModelArgs
from seq2seq_adapters.core import allocator
from seq2seq_adapters.generation import decoding as generation
from seq2seq_adapters.generation.decoding import generation_kwargs, greedy_search, pad_batch
from seq2seq_adapters.model.builder import build_summarizer

GREEDY = GenerationArgs(num_beams=1, max_new_tokens=10, min_new_tokens=2, no_repeat_ngram_size=2)


def eos_positions(output: torch.Tensor, eos: int) -> list[int]:
    """Where each row's eos is (-1: none)."""
    return [int((row == eos).nonzero()[0]) if (row == eos).any() else -1 for row in output]


@pytest.fixture(scope="module", params=["lora", "mam"])
def staggered(tiny_bert, request):
    """A tiny summarizer whose eos logit is raised until its summaries end at different steps (an untrained
    model otherwise ends all of them together, or none), with the batch and stock generate()'s output.
    LoRA (s2sa's default adapter) and mam (prefix tuning, whose prefix follows the batch's rows)."""
    torch.manual_seed(0)  # the new weights' initialisation: the same model whatever ran before
    summarizer = build_summarizer(ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), adapter_config=request.param))
    model, tokenizer = summarizer.model.eval(), summarizer.tokenizer
    eos = model.generation_config.eos_token_id
    input_ids, attention_mask = pad_batch(tokenizer(VARIED_DOCUMENTS, return_token_type_ids=False)["input_ids"], tokenizer.pad_token_id)
    bias = model.decoder.cls.predictions.decoder.bias
    for raised in torch.arange(0.0, 1.5, 0.005).tolist():
        with torch.no_grad():
            bias[eos] = raised
        with torch.inference_mode():  # the encoder up front, as s2sa does: adapters' own generate() fails on prefix tuning
            stock = generation.stock_search(model, input_ids, attention_mask, GREEDY)
        if len(set(eos_positions(stock, eos))) > 1:
            return model, input_ids, attention_mask, stock
    pytest.fail("no eos bias made the tiny model's summaries end at different steps")


@pytest.mark.parametrize("drop_at", [generation.DROP_FINISHED_AT, 0.0, 1.0])
def test_greedy_search_gives_generates_tokens_while_dropping_finished_rows(staggered, monkeypatch, drop_at):
    """Token for token generate()'s greedy output, whether rows leave at every finished summary, at s2sa's
    share, or never (1.0: all must finish first)."""
    model, input_ids, attention_mask, stock = staggered
    monkeypatch.setattr(generation, "DROP_FINISHED_AT", drop_at)
    kept: list[int] = []
    select = generation.EncoderDecoderCache.batch_select_indices
    monkeypatch.setattr(generation.EncoderDecoderCache, "batch_select_indices", lambda cache, keep: (kept.append(len(keep)), select(cache, keep)))
    with torch.inference_mode():
        fast = greedy_search(model, input_ids, attention_mask, GREEDY)
    assert torch.equal(fast, stock)
    assert bool(kept) == (drop_at < 1.0)  # rows really left the batch (or, at 1.0, never did)
    assert kept == sorted(kept, reverse=True)


def test_greedy_summaries_stop_at_max_new_tokens_without_eos(tiny_bert):
    """With eos never chosen, every row runs to max_new_tokens, as in generate()."""
    summarizer = build_summarizer(ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), adapter_config="lora"))
    model, tokenizer = summarizer.model.eval(), summarizer.tokenizer
    with torch.no_grad():
        model.decoder.cls.predictions.decoder.bias[model.generation_config.eos_token_id] = -1e4
    input_ids, attention_mask = pad_batch(tokenizer(VARIED_DOCUMENTS[:3], return_token_type_ids=False)["input_ids"], tokenizer.pad_token_id)
    with torch.inference_mode():
        fast = greedy_search(model, input_ids, attention_mask, GREEDY)
        stock = model.generate(input_ids=input_ids, attention_mask=attention_mask, generation_config=model.generation_config, **generation_kwargs(GREEDY))
    assert fast.shape == (3, GREEDY.max_new_tokens + 1)
    assert torch.equal(fast, stock)


def test_reuse_freed_memory_sets_glibc_malloc(monkeypatch):
    """On glibc both mallopt calls are made and accepted; elsewhere nothing is changed."""
    calls: list[tuple[int, int]] = []

    class GlibcStub:
        gnu_get_libc_version = object()

        def mallopt(self, param: int, value: int) -> int:
            calls.append((param, value))
            return 1

    monkeypatch.setattr(ctypes, "CDLL", lambda name: GlibcStub())
    assert allocator.reuse_freed_memory()
    assert calls == [(allocator.M_MMAP_MAX, 0), (allocator.M_TRIM_THRESHOLD, allocator.NEVER_TRIM)]

    class OtherLibc:  # musl, macOS: no gnu_get_libc_version
        def mallopt(self, param: int, value: int) -> int:
            raise AssertionError("mallopt called on a non-glibc libc")

    monkeypatch.setattr(ctypes, "CDLL", lambda name: OtherLibc())
    assert not allocator.reuse_freed_memory()


def test_every_command_reuses_freed_memory(monkeypatch):
    """The setting is made by the CLI (the process's owner) before any command runs, not by the library."""
    called: list[bool] = []
    monkeypatch.setattr("seq2seq_adapters.cli.reuse_freed_memory", lambda: called.append(True))
    result = CliRunner().invoke(app, ["configs"], standalone_mode=False)
    assert result.exit_code == 0 and called == [True]
