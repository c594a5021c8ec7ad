"""Raw splits from data files, split folders and hub ids; a bad file is one line naming it."""

from __future__ import annotations

import pandas as pd
import pytest
from tiny import article_rows, data_error, load_data, write_jsonl

from seq2seq_adapters.data import sources as data_files


def test_parquet_file(tmp_path):
    path = tmp_path / "d.parquet"
    pd.DataFrame({"text": ["a b c", "d e f"], "summary": ["a", "d"]}).to_parquet(path)
    loaded = load_data(path)
    assert loaded.text_column == "text"
    assert len(loaded.splits["train"]) + len(loaded.splits["validation"]) == 2


def test_directory_with_dev_split_is_not_carved(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", article_rows(8))
    write_jsonl(tmp_path / "dev.jsonl", article_rows(3))
    write_jsonl(tmp_path / "test.jsonl", article_rows(2))
    (tmp_path / "notes.txt").write_text("ignored")
    loaded = load_data(tmp_path)
    assert {name: len(split) for name, split in loaded.splits.items()} == {"train": 8, "validation": 3, "test": 2}
    assert not loaded.validation_carved
    assert "dev.jsonl" in loaded.source


def test_missing_path(tmp_path):
    assert data_error(tmp_path / "nope.jsonl") == f"data path not found: {tmp_path / 'nope.jsonl'}"
    assert data_error("./missing_dir") == "data path not found: ./missing_dir"


def test_unsupported_extension_lists_supported(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text("hello")
    message = data_error(path)
    assert "'.txt'" in message and ".jsonl, .json, .csv, .parquet" in message


@pytest.mark.parametrize("name", ["d.jsonl", "d.csv", "d.json"])
def test_empty_file(tmp_path, name):
    path = tmp_path / name
    path.write_text(" \n")
    assert data_error(path) == f"data file {path} is empty"


def test_csv_with_header_only(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("document,summary\n")
    assert "has a header but no rows" in data_error(path)


def test_malformed_json_line_reports_its_number(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"document": "a", "summary": "b"}\n{"document": "a", "summary": }\n')
    message = data_error(path)
    assert f"{path} line 2: malformed JSON" in message


def test_malformed_json_file(tmp_path):
    path = tmp_path / "d.json"
    path.write_text('[{"document": "a", "summary": "b"},\n {"document": ]')
    assert "invalid JSON" in data_error(path) and "line 2" in data_error(path)


def test_hub_id_offline_fails_fast_with_hint(monkeypatch):
    monkeypatch.setattr(data_files, "hub_unreachable", lambda: True)
    message = data_error("someone/some_dataset")
    assert "could not download dataset 'someone/some_dataset'" in message
    assert "offline?" in message and "local file or directory" in message


def test_a_datasets_cache_that_cannot_be_written_is_named_not_the_data(tmp_path, monkeypatch, dialog_jsonl):
    import datasets

    blocker = tmp_path / "home-is-a-file"
    blocker.write_text("x")  # root writes anywhere: a path through a file is what cannot be written here
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(blocker / "datasets"))
    message = data_error(dialog_jsonl)
    assert message.startswith(f"cannot write the cache folder {blocker / 'datasets'} (Not a directory)")
    assert "HF_DATASETS_CACHE (or HF_HOME)" in message and str(dialog_jsonl) not in message
