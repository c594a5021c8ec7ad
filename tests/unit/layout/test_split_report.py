"""The names of a scored split's files: what training, `s2sa eval` and `--compare` all read and write."""

from __future__ import annotations

from pathlib import Path

from seq2seq_adapters.layout.run_folder import RunDir
from seq2seq_adapters.layout.split_report import SplitReport


def test_a_splits_files_are_named_after_it():
    files = SplitReport(Path("run/eval-test"), "test")
    assert [files.rouge_json, files.rouge_markdown, files.predictions] == [
        Path("run/eval-test/rouge_test.json"), Path("run/eval-test/rouge_test.md"), Path("run/eval-test/predictions_test.jsonl")]  # fmt: skip


def test_a_runs_own_report_is_its_validation_splits():
    assert RunDir(Path("run")).report("validation") == SplitReport(Path("run"), "validation").rouge_json
