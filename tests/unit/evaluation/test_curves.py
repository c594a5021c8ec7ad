"""curves.png from metrics.jsonl: the series each panel draws, one run or several overlaid, lines cut short skipped."""

from __future__ import annotations

import json
from pathlib import Path

from seq2seq_adapters.evaluation.curves import plot_curves, read_series, write_run_curves
from seq2seq_adapters.layout.run_folder import RunDir

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def metrics(path: Path, *, evaluations: bool = True) -> Path:
    """metrics.jsonl as training writes it: a line per logging step, one per evaluation, the final summary,
    and a last line cut short by a kill."""
    lines = [{"step": step, "epoch": step / 4, "loss": 5.0 - step / 4, "learning_rate": 1e-3 * (1 - step / 8)} for step in (2, 4, 6, 8)]
    if evaluations:
        lines += [{"step": step, "eval_loss": 4.0 - step / 8, "eval_rouge1": 10.0 + step, "eval_rougeL": 8.0 + step} for step in (4, 8)]
    lines.append({"step": 8, "train_runtime": 12.5, "train_loss": 4.2})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"step": 9, "loss": 3.')
    return path


def test_series_are_read_by_key_and_step(tmp_path):
    series = read_series(metrics(tmp_path / "metrics.jsonl"))
    assert set(series) == {"loss", "learning_rate", "eval_loss", "eval_rouge1", "eval_rougeL"}  # not train_loss/runtime
    assert series["loss"] == ([2, 4, 6, 8], [4.5, 4.0, 3.5, 3.0])  # the line cut short is skipped
    assert series["eval_rouge1"] == ([4, 8], [14.0, 18.0])
    assert read_series(tmp_path / "missing.jsonl") == {}


def test_one_run_draws_what_it_logged(tmp_path):
    drawn = plot_curves({"run": metrics(tmp_path / "metrics.jsonl", evaluations=False)}, tmp_path / "out" / "curves.png")
    assert drawn == ["loss: training loss", "learning rate: learning rate"]
    assert (tmp_path / "out" / "curves.png").read_bytes().startswith(PNG_SIGNATURE)


def test_several_runs_are_overlaid_with_their_labels(tmp_path):
    runs = {"run-a": metrics(tmp_path / "a" / "metrics.jsonl"), "run-b": metrics(tmp_path / "b" / "metrics.jsonl", evaluations=False)}
    drawn = plot_curves(runs, tmp_path / "curves.png")
    assert "loss: validation loss" in drawn and "validation ROUGE F1 x100: rouge1" in drawn
    assert drawn.count("loss: training loss") == 2 and drawn.count("loss: validation loss") == 1  # run-b has no evaluations
    assert (tmp_path / "curves.png").read_bytes().startswith(PNG_SIGNATURE)


def test_a_finished_run_gets_curves_png_and_the_note_that_links_it(tmp_path):
    run = RunDir(tmp_path / "run")
    metrics(run.metrics)
    assert write_run_curves(run) == ["Training curves: [curves.png](curves.png)"]
    assert run.curves.read_bytes().startswith(PNG_SIGNATURE)
