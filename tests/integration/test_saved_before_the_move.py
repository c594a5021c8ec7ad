"""A run trained and an adapter exported by the flat package (ce8d90a, before the subpackages) still load,
evaluate and export with today's code through the real CLI, to the same summaries
(tests/data/pre-subpackages/expected.json; the `stored_pair` fixture)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import STORED_PAIR_EXPECTED as EXPECTED
from conftest import run_cli


def summarize(folder: Path, stored_pair: Path) -> list[str]:
    result = run_cli(["summarize", str(folder), str(stored_pair / "doc1.txt"), str(stored_pair / "doc2.txt")])
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.splitlines()


def test_an_old_run_evaluates_to_the_same_summaries(stored_pair, tmp_path):
    result = run_cli(["eval", str(stored_pair / "run"), "--data", str(stored_pair / "dialogs.jsonl"),
                      "--max-samples", str(EXPECTED["eval_max_samples"]), "--output-dir", str(tmp_path / "eval")])
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (tmp_path / "eval" / "predictions_test.jsonl").read_text().splitlines()]
    assert [row["prediction"] for row in rows] == EXPECTED["eval_predictions"]


def test_an_old_export_summarizes_the_same(stored_pair):
    assert summarize(stored_pair / "export", stored_pair) == EXPECTED["summaries"]


def test_an_old_run_exports_again_to_the_same_summaries(stored_pair, tmp_path):
    result = run_cli(["export-adapter", str(stored_pair / "run"), "--output", str(tmp_path / "export")])
    assert result.returncode == 0, result.stderr[-3000:]
    assert summarize(tmp_path / "export", stored_pair) == EXPECTED["summaries"]
