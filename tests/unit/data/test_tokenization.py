"""Tokenization for training: truncated inputs, labels that end in [SEP], a cache on disk that is read back."""

from __future__ import annotations

from tiny import load_data, write_jsonl

from seq2seq_adapters.data import tokenization as tokenized_module
from seq2seq_adapters.data.tokenization import tokenize_splits


def test_tokenize_labels_and_cache(tmp_path, tokenizer, monkeypatch):
    path = write_jsonl(tmp_path / "d.jsonl", [{"document": "a " * 300, "summary": "the summary " * 50}] * 10)
    splits = load_data(path).splits
    done: list[int] = []
    tokenized = tokenize_splits(splits, tokenizer, 32, 16, cache_dir=tmp_path / "cache", progress=done.append)
    assert sum(done) == 10
    example = tokenized["train"][0]
    assert "token_type_ids" not in tokenized["train"].column_names
    assert {"id", "document", "references", "input_ids", "attention_mask", "labels"} <= set(example)
    assert len(example["input_ids"]) == 32 and example["input_ids"][0] == tokenizer.cls_token_id
    assert len(example["labels"]) == 16
    assert example["labels"][-1] == tokenizer.sep_token_id and example["labels"][0] != tokenizer.cls_token_id
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "cache").glob("*.arrow")) == ["train", "validation"]

    def not_again(*args, **kwargs):
        raise AssertionError("tokenized again instead of reading the cache")

    monkeypatch.setattr(tokenized_module, "_tokenize_batch", not_again)
    cached = tokenize_splits(splits, tokenizer, 32, 16, cache_dir=tmp_path / "cache")
    assert cached["train"]["labels"][:] == tokenized["train"]["labels"][:]


def test_short_labels_end_in_sep(tmp_path, tokenizer):
    path = write_jsonl(tmp_path / "d.jsonl", [{"document": "some text", "summary": "hi"}] * 4)
    tokenized = tokenize_splits(load_data(path).splits, tokenizer, 32, 16, cache_dir=tmp_path / "cache")
    assert tokenized["train"][0]["labels"] == tokenizer("hi", add_special_tokens=False)["input_ids"] + [
        tokenizer.sep_token_id
    ]
