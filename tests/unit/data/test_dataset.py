"""`SummarizationData`: a seeded, deterministic validation carve, the first rows kept by the max-samples
settings, a fingerprint of the values, the bundled ACLSum, and real DialogSum and SciTLDR."""

from __future__ import annotations

import math

import datasets
import pytest
from tiny import article_rows, load_data, write_jsonl

from seq2seq_adapters.config.schema import DataArgs
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.data.dataset import content_fingerprint, load_summarization_data
from seq2seq_adapters.data.tokenization import tokenize_splits


def test_content_fingerprint_follows_the_values_not_the_code():
    """eval reports compare runs by it: the same examples made by different code match; other examples do not."""
    table = {"id": ["a", "b"], "document": ["one text", "two text"], "summary": ["one", "two"]}
    plain = datasets.Dataset.from_dict(table)
    mapped = datasets.Dataset.from_dict({**table, "summary": ["ONE", "TWO"]}).map(lambda row: {"summary": row["summary"].lower()})
    assert plain._fingerprint != mapped._fingerprint  # datasets hashes the transform too
    assert content_fingerprint(plain) == content_fingerprint(mapped)
    assert content_fingerprint(plain) != content_fingerprint(plain.select([0]))
    assert content_fingerprint(plain) != content_fingerprint(datasets.Dataset.from_dict({**table, "summary": ["one", "2"]}))


def test_carving_is_seeded_and_deterministic(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", article_rows(50))
    first, again, other = load_data(path, seed=1), load_data(path, seed=1), load_data(path, seed=2)
    assert first.validation_carved
    assert len(first.splits["validation"]) == math.ceil(50 * 0.1)
    assert first.splits["validation"]["id"][:] == again.splits["validation"]["id"][:]
    assert first.splits["validation"]["id"][:] != other.splits["validation"]["id"][:]
    assert first.fingerprint == again.fingerprint != other.fingerprint
    assert set(first.splits["train"]["id"][:]).isdisjoint(first.splits["validation"]["id"][:])


def test_max_samples_keep_the_first_rows(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", article_rows(10))
    write_jsonl(tmp_path / "validation.jsonl", article_rows(10))
    write_jsonl(tmp_path / "test.jsonl", article_rows(10))
    loaded = load_data(tmp_path, max_train_samples=4, max_eval_samples=2)
    assert loaded.splits["train"]["id"][:] == ["0", "1", "2", "3"]
    assert loaded.splits["validation"]["id"][:] == loaded.splits["test"]["id"][:] == ["0", "1"]


def test_dialogsum_loads_without_column_flags(shared_data_dir):
    loaded = load_data(shared_data_dir / "dialogsum", max_train_samples=100)
    assert loaded.text_column == "dialogue"
    assert "summary1,summary2,summary3" in loaded.summary_column
    assert {name: len(split) for name, split in loaded.splits.items()} == {"train": 100, "validation": 500, "test": 500}
    assert all(len(refs) == 3 for refs in loaded.splits["test"]["references"][:])
    assert loaded.splits["test"][0]["id"] == "test_0"
    assert "#Person1#:" in loaded.splits["train"][0]["document"]
    assert not loaded.validation_carved


def test_scitldr_loads_without_column_flags(shared_data_dir):
    loaded = load_data(shared_data_dir / "scitldr", max_eval_samples=50)
    assert (loaded.text_column, loaded.summary_column) == ("source", "target")
    assert not loaded.validation_carved and "dev.jsonl" in loaded.source
    assert len(loaded.splits["validation"]) == len(loaded.splits["test"]) == 50
    assert "\n" in loaded.splits["train"][0]["document"]
    assert any(len(refs) > 1 for refs in loaded.splits["validation"]["references"][:])
    assert loaded.license is not None and "LICENSE" in loaded.license


def test_aclsum_default(tmp_path, tokenizer):
    loaded = load_summarization_data(DataArgs(), seed=0)
    assert {name: len(split) for name, split in loaded.splits.items()} == {"train": 100, "validation": 50, "test": 100}
    assert loaded.license == "MIT (ACLSum)" and not loaded.validation_carved
    example = loaded.splits["train"][0]
    assert len(example["references"]) == 1 and example["references"][0].count("\n") == 2
    assert loaded.fingerprint == load_summarization_data(DataArgs(), seed=0).fingerprint
    tokenize_splits(loaded.splits, tokenizer, 64, 16, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.arrow"))) == 3


def test_aclsum_rejects_column_flags():
    with pytest.raises(S2SAError, match="only apply with --data"):
        load_summarization_data(DataArgs(summary_column="summary"), seed=0)
