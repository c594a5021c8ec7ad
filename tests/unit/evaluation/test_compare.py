"""`s2sa eval --compare` on reports written as `s2sa eval` writes them (no model): one table, labels that stay
apart, the paired bootstrap of the first run against the others (examples paired by position or by id), and
refusal of runs scored on different examples."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from tiny import ALT_REFERENCES, PREDICTIONS, REFERENCES

from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.evaluation.compare import compare_runs, find_report, load_reports, paired_comparisons
from seq2seq_adapters.evaluation.reports import write_rouge_report
from seq2seq_adapters.evaluation.rouge import compute_rouge, paired_bootstrap
from seq2seq_adapters.evaluation.split_scoring import predictions_jsonl


def scored(folder: Path, references: list[str], *, ids: list[str] | None = None, fingerprint: str = "f00d", name: str | None = None) -> Path:
    """`folder` with rouge_validation.json and predictions_validation.jsonl of PREDICTIONS against `references`."""
    ids = ids or [f"ex-{i}" for i in range(len(references))]
    predictions, refs = PREDICTIONS[: len(references)], [[r] for r in references]
    result = compute_rouge(predictions, refs, n_bootstrap=100)
    write_rouge_report(folder, "validation", {"model": result}, {"data": {"fingerprint": fingerprint}, "run": {"name": name or folder.name}})
    (folder / "predictions_validation.jsonl").write_text(predictions_jsonl(ids, predictions, refs, predictions, result))
    return folder


def test_two_runs_in_one_table_with_the_paired_bootstrap(tmp_path):
    first, second = scored(tmp_path / "run-a", REFERENCES), scored(tmp_path / "run-b", ALT_REFERENCES)
    console = io.StringIO()
    reports = compare_runs([first, second], "validation", markdown=tmp_path / "compare.md", console=Console(file=console, width=200))
    assert list(reports) == ["run-a", "run-b"]
    text = (tmp_path / "compare.md").read_text()
    assert "| run-a | model | validation | 6 |" in text and "| run-b | model | validation | 6 |" in text
    assert "## Paired bootstrap over the shared examples" in text and "| run-a - run-b |" in text
    assert "run-a" in console.getvalue() and "Paired bootstrap" in console.getvalue()
    # the difference is the first run's per-example F1 x100 against the second's, example by example
    ours = [json.loads(line)["rouge"]["rouge1"] for line in (first / "predictions_validation.jsonl").read_text().splitlines()]
    theirs = [json.loads(line)["rouge"]["rouge1"] for line in (second / "predictions_validation.jsonl").read_text().splitlines()]
    [comparison] = paired_comparisons([first, second], list(reports), "validation").values()
    assert comparison["rouge1"] == paired_bootstrap(100 * np.array(ours), 100 * np.array(theirs))


def test_the_same_name_twice_gets_a_number_and_the_dev_split_is_validation(tmp_path):
    first = scored(tmp_path / "a" / "run", REFERENCES)
    second = scored(tmp_path / "b" / "run", ALT_REFERENCES)
    assert list(load_reports([first, second], "dev")) == ["run", "run (2)"]
    with pytest.raises(S2SAError, match="--compare needs at least two runs or reports"):
        load_reports([first], "validation")


def test_evals_of_one_run_in_folders_of_their_own_are_named_by_their_folder(tmp_path):
    """`s2sa eval RUN --num-beams 1 --output-dir greedy`: the label says which eval, not only which run."""
    run = scored(tmp_path / "run", REFERENCES)
    greedy = scored(tmp_path / "decoding" / "greedy", ALT_REFERENCES, name="run")
    eval_test = scored(tmp_path / "run" / "eval-validation", ALT_REFERENCES, name="run")
    assert list(load_reports([run, greedy, eval_test], "validation")) == ["run", "run · greedy", "run (2)"]


def test_an_eval_folder_is_read_before_the_runs_own_report(tmp_path):
    """`s2sa eval RUN --split validation` writes into RUN/eval-validation/: the newer scores of the same run."""
    run = scored(tmp_path / "run", REFERENCES)
    assert find_report(run, "validation") == run / "rouge_validation.json"
    evaluated = scored(run / "eval-validation", ALT_REFERENCES, name="run")
    assert find_report(run, "validation") == evaluated / "rouge_validation.json"
    with pytest.raises(S2SAError, match=r"no rouge_test.json in .*; run `s2sa eval .* --split test` first"):
        find_report(run, "test")


@pytest.mark.parametrize(
    "other",
    [
        {"references": REFERENCES[:4]},  # fewer examples
        {"references": REFERENCES, "fingerprint": "beef"},  # other data
    ],
    ids=["examples", "data"],
)
def test_runs_scored_on_different_examples_are_refused_before_anything_is_written(tmp_path, other):
    first = scored(tmp_path / "run-a", REFERENCES)
    second = scored(tmp_path / "run-b", **other)
    with pytest.raises(S2SAError, match="the runs were scored on different examples"):
        compare_runs([first, second], "validation", markdown=tmp_path / "compare.md", console=Console(file=io.StringIO()))
    assert not (tmp_path / "compare.md").exists()


def test_the_paired_bootstrap_needs_the_same_example_ids(tmp_path):
    first = scored(tmp_path / "run-a", REFERENCES)
    second = scored(tmp_path / "run-b", REFERENCES, ids=[f"other-{i}" for i in range(6)])
    with pytest.raises(S2SAError, match=r"run-a and run-b were scored on different examples \(0 of 6 and 6 ids shared\)"):
        paired_comparisons([first, second], ["run-a", "run-b"], "validation")


def test_without_predictions_the_table_comes_without_the_bootstrap(tmp_path):
    first, second = scored(tmp_path / "run-a", REFERENCES), scored(tmp_path / "run-b", ALT_REFERENCES)
    (second / "predictions_validation.jsonl").unlink()
    console = io.StringIO()
    compare_runs([first, second], "validation", markdown=tmp_path / "compare.md", console=Console(file=console, width=200))
    assert "no predictions_validation.jsonl next to every report: no paired bootstrap" in console.getvalue()
    assert "Paired bootstrap" not in (tmp_path / "compare.md").read_text()


def report(folder, ids, rouge1):
    folder.mkdir()
    (folder / "rouge_test.json").write_text("{}")
    rows = [{"id": i, "rouge": {kind: value for kind in ("rouge1", "rouge2", "rougeL", "rougeLsum")}} for i, value in zip(ids, rouge1)]
    (folder / "predictions_test.jsonl").write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return folder


def test_repeated_ids_are_paired_by_position_not_collapsed(tmp_path):
    a = report(tmp_path / "a", ["same"] * 20, [0.1 * (k % 3) for k in range(20)])
    b = report(tmp_path / "b", ["same"] * 20, [0.05 * (k % 5) for k in range(20)])
    result = paired_comparisons([a, b], ["a", "b"], "test")["a - b"]["rouge1"]
    expected = sum(100 * (0.1 * (k % 3) - 0.05 * (k % 5)) for k in range(20)) / 20
    assert result["difference"] == pytest.approx(expected)
    assert result["low"] < result["difference"] < result["high"]  # 20 examples vary: not one collapsed pair


def test_unique_ids_in_another_order_are_paired_by_id(tmp_path):
    a = report(tmp_path / "a", ["x", "y"], [0.4, 0.2])
    b = report(tmp_path / "b", ["y", "x"], [0.1, 0.3])
    assert paired_comparisons([a, b], ["a", "b"], "test")["a - b"]["rouge1"]["difference"] == pytest.approx(10.0)


def test_repeated_ids_in_another_order_are_refused(tmp_path):
    a = report(tmp_path / "a", ["x", "x", "y"], [0.4, 0.2, 0.1])
    b = report(tmp_path / "b", ["x", "y", "x"], [0.1, 0.3, 0.2])
    with pytest.raises(S2SAError, match="in another order, with repeated ids"):
        paired_comparisons([a, b], ["a", "b"], "test")
