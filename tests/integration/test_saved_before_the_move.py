"""A run trained and an adapter exported by the flat package (ce8d90a, before the subpackages) still load,
evaluate and export with today's code, to the same summaries (tests/data/pre-subpackages/expected.json)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import run_cli

from seq2seq_adapters import load_summarizer

STORED = Path(__file__).resolve().parents[1] / "data" / "pre-subpackages"
EXPECTED = json.loads((STORED / "expected.json").read_text())
RECORDED_BASE = "/tmp/pairwork/tiny-bert"
"""Where the base checkpoint lay when the pair was made; each test points it at the same tiny BERT (seed 0)."""


@pytest.fixture
def stored(tiny_bert, tmp_path) -> Path:
    """The stored pair in a temporary folder, its recorded base checkpoint and data where this machine has them."""
    copy = tmp_path / "stored"
    shutil.copytree(STORED, copy)
    for name in ("run/run_config.json", "run/adapter/s2sa.json", "export/s2sa.json"):
        path = copy / name
        path.write_text(path.read_text().replace(RECORDED_BASE, str(tiny_bert)).replace("/tmp/pair/", f"{copy}/"))
    return copy


def summarize(folder: Path, stored: Path) -> list[str]:
    result = run_cli(["summarize", str(folder), str(stored / "doc1.txt"), str(stored / "doc2.txt")])
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.splitlines()


def test_an_old_run_evaluates_to_the_same_summaries(stored, tmp_path):
    result = run_cli(["eval", str(stored / "run"), "--data", str(stored / "dialogs.jsonl"),
                      "--max-samples", str(EXPECTED["eval_max_samples"]), "--output-dir", str(tmp_path / "eval")])
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (tmp_path / "eval" / "predictions_test.jsonl").read_text().splitlines()]
    assert [row["prediction"] for row in rows] == EXPECTED["eval_predictions"]


def test_an_old_export_summarizes_the_same_from_the_cli_and_python(stored):
    assert summarize(stored / "export", stored) == EXPECTED["summaries"]
    model, tokenizer = load_summarizer(stored / "export")
    assert model.config.decoder_start_token_id == tokenizer.cls_token_id


def test_an_old_run_exports_again_to_the_same_summaries(stored, tmp_path):
    result = run_cli(["export-adapter", str(stored / "run"), "--output", str(tmp_path / "export")])
    assert result.returncode == 0, result.stderr[-3000:]
    assert summarize(tmp_path / "export", stored) == EXPECTED["summaries"]
