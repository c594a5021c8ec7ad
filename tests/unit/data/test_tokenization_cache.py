"""The tokenization cache is keyed on everything that shapes its content: the same data tokenized with the
same markers added in another order must not reuse the first run's ids (every speaker would be swapped)."""

from __future__ import annotations

from datasets import Dataset, DatasetDict
from transformers import AutoTokenizer

from seq2seq_adapters.data.tokenization import tokenize_splits, tokenizer_fingerprint
from seq2seq_adapters.model.marker_tokens import add_marker_tokens


def splits() -> DatasetDict:
    rows = {"id": ["a"], "document": ["#Person1#: hi.\n#Person2#: hello."], "references": [["#Person2# greets #Person1#."]]}
    return DatasetDict(train=Dataset.from_dict(rows))


def test_swapped_markers_change_the_cached_token_ids(tiny_bert, tmp_path):
    first, second = AutoTokenizer.from_pretrained(tiny_bert), AutoTokenizer.from_pretrained(tiny_bert)
    add_marker_tokens(first, ["#Person1#", "#Person2#"])
    add_marker_tokens(second, ["#Person2#", "#Person1#"])
    assert len(first) == len(second) and tokenizer_fingerprint(first) != tokenizer_fingerprint(second)
    data = splits()
    ids_first = tokenize_splits(data, first, 32, 16, cache_dir=tmp_path)["train"][0]["input_ids"]
    ids_second = tokenize_splits(data, second, 32, 16, cache_dir=tmp_path)["train"][0]["input_ids"]
    person1 = {first.convert_tokens_to_ids("#Person1#"), second.convert_tokens_to_ids("#Person1#")}
    assert ids_first != ids_second and len(person1) == 2
    assert ids_second == tokenize_splits(data, second, 32, 16, cache_dir=tmp_path / "fresh")["train"][0]["input_ids"]


def test_the_same_tokenizer_reads_its_cache_back(tiny_bert, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    tokenize_splits(splits(), tokenizer, 32, 16, cache_dir=tmp_path)
    cached = sorted(path.name for path in tmp_path.iterdir())
    tokenize_splits(splits(), AutoTokenizer.from_pretrained(tiny_bert), 32, 16, cache_dir=tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == cached
