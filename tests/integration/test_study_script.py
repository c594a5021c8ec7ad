"""scripts/study.py on a tiny BERT: the selected variants run as one s2sa tune, every table row is named by its
variant, and the same command again trains nothing (the study is done) and writes the same table."""

from __future__ import annotations

import json

from conftest import ROOT, run_python
from tiny import split_folder

VARIANTS = ["AO seq_bn + head, lr=0.002", "AO seq_bn + head, lr=0.005"]
TINY = ["data.max_source_length=64", "data.max_target_length=24", "generation.max_new_tokens=8",
        "generation.min_new_tokens=1", "train.batch_size=8"]
"""What the tiny BERT (128 positions) needs beside configs/dialogsum.yaml, and short summaries."""


def test_the_variants_run_as_one_tune_and_a_done_study_trains_nothing(tiny_bert, dialog_jsonl, tmp_path):
    work, results = tmp_path / "work", tmp_path / "results.md"
    settings = [f"model.encoder={tiny_bert}", f"model.decoder={tiny_bert}", *TINY]
    args = [str(ROOT / "scripts" / "study.py"), "--only", *VARIANTS, "--steps", "2", "--test-samples", "4",
            "--num-beams", "1", "--data", str(split_folder(dialog_jsonl, tmp_path / "data")), "--work", str(work),
            "--results", str(results), *(part for setting in settings for part in ("--set", setting))]
    first = run_python(args)
    assert first.returncode == 0, first.stderr[-3000:]
    table = results.read_text()
    names = [line.split(" | ")[0].removeprefix("| ") for line in table.splitlines() if line.startswith("| AO")]
    assert names == VARIANTS
    assert "--only " + " ".join(f'"{name}"' for name in VARIANTS) + "`" in table  # the Regenerate line
    trials = json.loads((work / "tune" / "results.json").read_text())["trials"]
    assert [t["settings"]["train.learning_rate"] for t in trials if t["state"] == "complete"] == [0.002, 0.005]
    assert len(trials) == 2  # each variant once

    again = run_python(args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert " starts in " not in again.stderr
    assert len(json.loads((work / "tune" / "results.json").read_text())["trials"]) == 2
    assert results.read_text() == table
