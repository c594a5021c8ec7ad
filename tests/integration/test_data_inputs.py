"""Data inputs must be regular files: a FIFO (or a device such as /dev/zero behind a link) is refused before it
is read, and a split file that is a broken link is named, not silently left out (validation was carved from
train instead)."""

from __future__ import annotations

import os

from conftest import assert_one_line_error, cli_env, run_cli
from tiny import write_jsonl

ROWS = [{"document": f"document number {i} about things", "summary": f"summary {i}"} for i in range(12)]


def test_a_fifo_as_data_is_refused_before_it_is_read(tmp_path):
    fifo = tmp_path / "train.jsonl"
    os.mkfifo(fifo)  # nothing ever writes to it: reading it would wait forever
    (tmp_path / "link.jsonl").symlink_to(fifo)
    for data in (fifo, tmp_path / "link.jsonl"):
        result = run_cli(["train", "--data", str(data), "--output-dir", str(tmp_path / "run")], timeout=120)
        assert_one_line_error(result, "is not a regular file (a device, FIFO or socket)")
    assert not (tmp_path / "run").exists()


def test_a_broken_link_among_split_files_is_named(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    write_jsonl(folder / "train.jsonl", ROWS)
    (folder / "validation.jsonl").symlink_to(tmp_path / "gone.jsonl")
    result = run_cli(["train", "--data", str(folder), "--output-dir", str(tmp_path / "run")], timeout=120)
    assert_one_line_error(result, "validation.jsonl names the validation split but is not a readable regular file (a broken link)")


def test_a_cache_folder_that_cannot_be_written_is_named_not_the_data(tmp_path, dialog_jsonl):
    """A read-only HF_HOME blamed the data file; root writes anywhere, so a path through a file stands in for it."""
    (tmp_path / "home").write_text("a file where a folder should be")
    result = run_cli(["train", "--data", str(dialog_jsonl), "--output-dir", str(tmp_path / "run")],
                     env=cli_env(HF_DATASETS_CACHE=str(tmp_path / "home" / "datasets")))
    assert_one_line_error(result, f"cannot write the cache folder {tmp_path / 'home' / 'datasets'}", "set HF_DATASETS_CACHE (or HF_HOME)")
    assert not (tmp_path / "run").exists()
