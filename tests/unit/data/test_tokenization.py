"""Tokenization for training: truncated inputs, labels that end in [SEP], a cache on disk that is read back and
is keyed on the tokenizer's whole definition (markers added in another order give other ids)."""

from __future__ import annotations

import pytest
from datasets import Dataset, DatasetDict
from tiny import load_data, write_jsonl
from transformers import AutoTokenizer

from seq2seq_adapters.data import tokenization as tokenized_module
from seq2seq_adapters.data.tokenization import tokenize_splits, tokenizer_fingerprint
from seq2seq_adapters.model.marker_tokens import add_marker_tokens


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


def dialogue_splits() -> DatasetDict:
    rows = {"id": ["a"], "document": ["#Person1#: hi.\n#Person2#: hello."], "references": [["#Person2# greets #Person1#."]]}
    return DatasetDict(train=Dataset.from_dict(rows))


def test_swapped_markers_change_the_cached_token_ids(tiny_bert, tmp_path):
    first, second = AutoTokenizer.from_pretrained(tiny_bert), AutoTokenizer.from_pretrained(tiny_bert)
    add_marker_tokens(first, ["#Person1#", "#Person2#"])
    add_marker_tokens(second, ["#Person2#", "#Person1#"])
    assert len(first) == len(second) and tokenizer_fingerprint(first) != tokenizer_fingerprint(second)
    data = dialogue_splits()
    ids_first = tokenize_splits(data, first, 32, 16, cache_dir=tmp_path)["train"][0]["input_ids"]
    ids_second = tokenize_splits(data, second, 32, 16, cache_dir=tmp_path)["train"][0]["input_ids"]
    person1 = {first.convert_tokens_to_ids("#Person1#"), second.convert_tokens_to_ids("#Person1#")}
    assert ids_first != ids_second and len(person1) == 2
    assert ids_second == tokenize_splits(data, second, 32, 16, cache_dir=tmp_path / "fresh")["train"][0]["input_ids"]


def test_the_same_tokenizer_reads_its_cache_back(tiny_bert, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    tokenize_splits(dialogue_splits(), tokenizer, 32, 16, cache_dir=tmp_path)
    cached = sorted(path.name for path in tmp_path.iterdir())
    tokenize_splits(dialogue_splits(), AutoTokenizer.from_pretrained(tiny_bert), 32, 16, cache_dir=tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == cached


def test_a_tokenized_cache_that_cannot_be_written_is_named(tmp_path, tokenizer):
    from datasets import Dataset, DatasetDict

    from seq2seq_adapters.core.errors import S2SAError
    from seq2seq_adapters.data.tokenization import tokenize_splits

    (tmp_path / "file").write_text("x")
    splits = DatasetDict({"train": Dataset.from_dict({"document": ["a b"], "references": [["a"]]})})
    with pytest.raises(S2SAError, match=r"cannot write the cache folder .*file/cache \(Not a directory\); it is ~/.cache/seq2seq_adapters"):
        tokenize_splits(splits, tokenizer, 16, 8, cache_dir=tmp_path / "file" / "cache")
