"""The text and summary columns found (or named), and rows normalized into id, document, references; bad rows
skipped and counted, or named."""

from __future__ import annotations

import pandas as pd
from tiny import data_error, load_data, write_jsonl


def test_detects_columns_joins_list_documents_and_uses_own_ids(tmp_path):
    path = write_jsonl(
        tmp_path / "train.jsonl",
        [{"doc_id": f"d{i}", "article": ["first.", "second."], "highlights": ["ref a", "ref b"]} for i in range(10)],
    )
    loaded = load_data(path)
    assert (loaded.text_column, loaded.summary_column) == ("article", "highlights")
    example = loaded.splits["train"][0]
    assert example["document"] == "first.\nsecond."
    assert example["references"] == ["ref a", "ref b"]
    assert example["id"].startswith("d")
    assert loaded.splits["train"].column_names == ["id", "document", "references"]
    assert loaded.license is None


def test_summary_is_never_the_text_column(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"abstract": "long text", "target": "short"}] * 4)
    loaded = load_data(path, text_column="abstract")
    assert (loaded.text_column, loaded.summary_column) == ("abstract", "target")
    assert "cannot be both" in data_error(path, text_column="abstract", summary_column="abstract")


def test_numbered_summary_columns_become_references_and_ids_default_to_row_index(tmp_path):
    path = tmp_path / "d.csv"
    pd.DataFrame(
        {"dialogue": [f"talk {i}" for i in range(6)], "summary2": ["b"] * 6, "summary1": ["a"] * 6, "topic": ["t"] * 6}
    ).to_csv(path, index=False)
    loaded = load_data(path, validation_ratio=0.5)
    assert loaded.summary_column == "summary1,summary2"
    assert all(refs == ["a", "b"] for split in loaded.splits.values() for refs in split["references"])
    ids = loaded.splits["train"]["id"][:] + loaded.splits["validation"]["id"][:]
    assert sorted(ids) == [str(i) for i in range(6)]


def test_named_columns_and_missing_named_column(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"body": "text", "tldr": "short", "summary": "other"}] * 4)
    loaded = load_data(path, text_column="body", summary_column="tldr")
    assert loaded.splits["train"][0]["references"] == ["short"]
    message = data_error(path, text_column="content")
    assert "'content'" in message and "body, tldr, summary" in message and str(path) in message


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
    loaded = load_data(tmp_path)
    assert loaded.skipped == {"train": 4, "test": 0}
    assert sorted(loaded.splits["train"]["id"][:] + loaded.splits["validation"]["id"][:]) == ["0", "5"]


def test_bad_rows_fail_names_split_row_and_column(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", BAD_ROWS)
    message = data_error(tmp_path, on_bad_rows="fail")
    assert "train row 1" in message and "'document'" in message


def test_all_rows_filtered(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"document": "x", "summary": ""}] * 3)
    assert "all 3 rows of the train split" in data_error(path)


def test_csv_missing_columns_lists_existing_ones(tmp_path):
    path = tmp_path / "d.csv"
    pd.DataFrame({"body": ["a"], "headline": ["b"]}).to_csv(path, index=False)
    message = data_error(path)
    assert "no text column" in message and "body, headline" in message and str(path) in message
