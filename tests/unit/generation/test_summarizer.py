"""The public Python API (seq2seq_adapters.Summarizer, load_summarizer) on an export: the summaries of
`s2sa summarize`, and transformers' own `model.generate(**tokenizer(texts, return_tensors="pt"))`."""

from __future__ import annotations

import pytest
import torch
from conftest import STORED_PAIR_EXPECTED as EXPECTED

import seq2seq_adapters
from seq2seq_adapters import Summarizer, load_summarizer
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.generation.surface_text import decode_summaries


def documents(stored_pair) -> list[str]:
    return [(stored_pair / name).read_text() for name in ("doc1.txt", "doc2.txt")]


def test_the_public_api_is_summarizer_and_load_summarizer():
    assert set(seq2seq_adapters.__all__) == {"Summarizer", "load_summarizer", "__version__"}


def test_summarize_gives_what_s2sa_summarize_wrote(stored_pair):
    """expected.json holds `s2sa summarize EXPORT doc1.txt doc2.txt` (tests/integration runs today's CLI on it)."""
    summarizer = Summarizer.load(stored_pair / "export")
    assert summarizer.summarize(documents(stored_pair)) == EXPECTED["summaries"]
    assert summarizer.summarize(documents(stored_pair)[1]) == EXPECTED["summaries"][1:]  # one text: a list of one


def test_plain_transformers_generate_works_on_the_loaded_model(stored_pair):
    model, tokenizer = load_summarizer(stored_pair / "export")
    texts = documents(stored_pair)
    inputs = tokenizer(texts, return_tensors="pt", padding=True)
    assert set(inputs) == {"input_ids", "attention_mask"}  # no token_type_ids, which generate() rejects
    with torch.no_grad():
        ids = model.generate(**inputs)
    assert decode_summaries(tokenizer, ids, texts) == EXPECTED["summaries"]


def test_decoding_settings_are_overridden_and_checked_before_loading(stored_pair):
    assert Summarizer.load(stored_pair / "export", num_beams=1).generation.num_beams == 1
    with pytest.raises(S2SAError, match="not decoding settings: beams"):
        Summarizer.load(stored_pair / "export", beams=1)
    with pytest.raises(S2SAError, match="--long-documents must be truncate or chunk"):
        Summarizer.load(stored_pair / "export").summarize("text", long_documents="split")
