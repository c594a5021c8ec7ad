"""Documents over the source limit: counted right, windowed with an overlap bounded by the limit, summarised
map-reduce in input order."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from seq2seq_adapters.config.schema import GenerationArgs, ModelArgs
from seq2seq_adapters.generation.decoding import generate_summaries
from seq2seq_adapters.generation.long_documents import chunked_summaries, measure_overflow, token_lengths, windows
from seq2seq_adapters.model.builder import build_summarizer


@pytest.fixture(scope="module")
def tiny(tiny_bert):
    return build_summarizer(ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), leave_out=[0]))


def words(n: int) -> str:
    return " ".join(["room"] * n)  # one token per word with the MiniLM vocab


def test_overflow_counts_documents_and_tokens_over_the_limit(tiny):
    overflow = measure_overflow(tiny.tokenizer, [words(10), words(38), words(50), words(3)], limit=40)
    # [CLS] + words + [SEP]: 12, 40, 52, 5 tokens
    assert (overflow.documents, overflow.over_limit, overflow.longest_tokens, overflow.tokens_cut) == (4, 1, 52, 12)
    assert overflow.describe() == "1 of 4 documents exceed the 40-token source limit and are cut (longest 52 tokens; 12 tokens cut in all)"
    assert measure_overflow(tiny.tokenizer, [words(3)], limit=40).describe() == "all 1 documents fit the 40-token source limit"


def test_windows_fit_the_limit_and_overlap(tiny):
    document = " ".join(f"#Person{i % 3}# word{i} room" for i in range(60))
    pieces = windows(tiny.tokenizer, document, limit=32, overlap=8)
    assert len(pieces) > 3
    assert max(token_lengths(tiny.tokenizer, pieces)) <= 32
    assert all(piece in document for piece in pieces)  # whole words of the document's own text
    for before, after in zip(pieces, pieces[1:]):  # each window starts with the end of the one before
        first, second = before.split(), after.split()
        assert any(first[-k:] == second[:k] for k in range(2, len(first)))
    assert pieces[-1].endswith("word59 room")


def test_chunk_mode_keeps_short_documents_and_summarises_long_ones_in_order(tiny):
    gen = GenerationArgs(num_beams=1, max_new_tokens=6, min_new_tokens=2, batch_size=4)
    documents = [words(5), " ".join(f"guest{i % 7} asks about room {i}" for i in range(40)), words(8)]
    assert token_lengths(tiny.tokenizer, documents)[1] > 48
    chunked = chunked_summaries(tiny.model, tiny.tokenizer, documents, gen, limit=48)
    truncated = generate_summaries(tiny.model, tiny.tokenizer, documents, gen, 48)
    assert len(chunked) == 3 and all(chunked)
    assert (chunked[0], chunked[2]) == (truncated[0], truncated[2])  # documents that fit go through as they are


def test_chunk_mode_with_no_long_document(tiny):
    """`summarize --long-documents chunk` on documents that all fit crashed in the (empty) second pass."""
    gen = GenerationArgs(num_beams=1, max_new_tokens=6, min_new_tokens=2, batch_size=4)
    documents = [words(5), words(8)]
    assert chunked_summaries(tiny.model, tiny.tokenizer, documents, gen, limit=48) == generate_summaries(tiny.model, tiny.tokenizer, documents, gen, 48)
    assert generate_summaries(tiny.model, tiny.tokenizer, [], gen, 48) == []


def test_chunk_mode_reports_progress_in_documents(tiny):
    """`summarize --long-documents chunk` showed "5/1 (500%)": windows were counted against documents."""
    gen = GenerationArgs(num_beams=1, max_new_tokens=6, min_new_tokens=2, batch_size=2)
    documents = [words(5), " ".join(f"guest{i % 7} asks about room {i}" for i in range(40)), words(8)]
    reported: list[int] = []
    chunked_summaries(tiny.model, tiny.tokenizer, documents, gen, limit=48, on_batch=reported.append)
    assert sum(reported) == len(documents) and all(n > 0 for n in reported)
    assert len(reported) > 1  # it moves during the run, not only at its end


def test_a_short_source_limit_still_moves_on_by_most_of_a_window(tiny_bert):
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    document = " ".join(f"word{i % 50}" for i in range(2000))
    tokens = len(tokenizer(document, add_special_tokens=False)["input_ids"])
    pieces = windows(tokenizer, document, limit=48)
    budget = 48 - tokenizer.num_special_tokens_to_add()
    assert len(pieces) <= tokens / (0.75 * budget - 4) + 1  # a word is a few tokens: a window ends a word early
    assert pieces[0].split()[-1] in pieces[1]  # windows still overlap
