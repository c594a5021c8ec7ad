"""--long-documents chunk: the window overlap is bounded by the source limit, so each window moves on by three
quarters of its budget at least (a 48-token limit with the fixed 64-token overlap moved on by one word)."""

from __future__ import annotations

from transformers import AutoTokenizer

from seq2seq_adapters.generation.long_documents import windows


def test_a_short_source_limit_still_moves_on_by_most_of_a_window(tiny_bert):
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    document = " ".join(f"word{i % 50}" for i in range(2000))
    tokens = len(tokenizer(document, add_special_tokens=False)["input_ids"])
    pieces = windows(tokenizer, document, limit=48)
    budget = 48 - tokenizer.num_special_tokens_to_add()
    assert len(pieces) <= tokens / (0.75 * budget - 4) + 1  # a word is a few tokens: a window ends a word early
    assert pieces[0].split()[-1] in pieces[1]  # windows still overlap
