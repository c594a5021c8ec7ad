"""Copy-free attention matching: the same numbers as adapters' own, without its copies."""

from __future__ import annotations

import sys

import pytest
import torch
from tiny import stock_and_fast

from seq2seq_adapters.config.schema import ModelArgs
from seq2seq_adapters.model.builder import build_summarizer
from seq2seq_adapters.model.patched_attention import (
    FUNCTION_NAME,
    match_without_copies,
    stock_match,
    use_copy_free_attention,
)


def test_matching_batches_are_returned_untouched():
    query, key, value = torch.randn(4, 2, 1, 8), torch.randn(4, 2, 5, 8), torch.randn(4, 2, 5, 8)
    assert all(a is b for a, b in zip(match_without_copies(query, key, value), (query, key, value)))
    assert all(a is not b for a, b in zip(stock_match(query, key, value), (query, key, value)))  # adapters copies


def test_unequal_batches_defer_to_adapters():
    query, key, value = torch.randn(2, 2, 1, 8), torch.randn(4, 2, 5, 8), torch.randn(4, 2, 5, 8)
    for ours, theirs in zip(match_without_copies(query, key, value), stock_match(query, key, value)):
        assert torch.equal(ours, theirs)


@pytest.mark.parametrize("adapter_config", ["lora[r=8,alpha=8,attn_matrices=['q','k','v']]|double_seq_bn", "prefix_tuning"])
def test_copy_free_attention_changes_no_number(tiny_bert, adapter_config):
    """Loss, every gradient and the beam-search summaries are bit-identical with adapters' matching."""
    summarizer = build_summarizer(ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), adapter_config=adapter_config))
    assert getattr(sys.modules["adapters.models.bert.modeling_bert"], FUNCTION_NAME) is match_without_copies
    stock, fast = stock_and_fast(summarizer, use_copy_free_attention)
    assert torch.equal(stock[0], fast[0])
    assert stock[1].keys() == fast[1].keys() and all(torch.equal(stock[1][k], fast[1][k]) for k in stock[1])
    assert stock[2] == fast[2]
