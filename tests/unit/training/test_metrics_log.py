"""metrics.jsonl: one line per logging step from rank 0, cut back to the checkpoint's step when a resumed Trainer
starts (the lines of steps trained again, the interrupted session's summary and a line cut short go)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from transformers import TrainerControl, TrainerState

from seq2seq_adapters.training.metrics_log import MetricsFileCallback, truncate_metrics


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_log_is_one_line_with_its_step_and_epoch(tmp_path):
    path = tmp_path / "metrics.jsonl"
    callback, control = MetricsFileCallback(path), TrainerControl()
    state = TrainerState(global_step=2, epoch=0.5, is_world_process_zero=True)
    callback.on_log(None, state, control, logs={"loss": 4.25, "learning_rate": 1e-3})
    state.global_step, state.epoch = 4, 1.0
    callback.on_log(None, state, control, logs={"eval_loss": 3.5, "eval_rouge1": 12.0})
    callback.on_log(None, state, control, logs={})  # nothing logged: no line
    callback.on_log(None, TrainerState(global_step=4, is_world_process_zero=False), control, logs={"loss": 1.0})  # rank 1
    assert lines(path) == [
        {"step": 2, "epoch": 0.5, "loss": 4.25, "learning_rate": 1e-3},
        {"step": 4, "epoch": 1.0, "eval_loss": 3.5, "eval_rouge1": 12.0},
    ]


def test_a_resume_keeps_the_lines_up_to_its_checkpoint(tmp_path):
    path = tmp_path / "metrics.jsonl"
    records = [{"step": 2, "loss": 4.0}, {"step": 4, "loss": 3.0}, {"step": 4, "eval_loss": 3.2},
               {"step": 6, "loss": 2.5}, {"step": 6, "train_runtime": 9.0, "train_loss": 3.1}]
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + '{"step": 8, "lo')
    truncate_metrics(path, 4)
    assert lines(path) == records[:3]
    truncate_metrics(tmp_path / "missing.jsonl", 4)  # a run that never logged: nothing to cut
    assert not (tmp_path / "missing.jsonl").exists()


def test_the_cut_waits_for_the_trainer_to_have_loaded_the_checkpoint(tmp_path):
    """on_train_begin runs once the checkpoint is loaded: a resume that fails before leaves the file whole."""
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": step, "loss": 1.0}) + "\n" for step in (2, 4, 6)))
    callback, args = MetricsFileCallback(path), SimpleNamespace()
    callback.on_train_begin(args, TrainerState(global_step=4, is_world_process_zero=False), TrainerControl())
    assert [r["step"] for r in lines(path)] == [2, 4, 6]  # only rank 0 writes
    callback.on_train_begin(args, TrainerState(global_step=4, is_world_process_zero=True), TrainerControl())
    assert [r["step"] for r in lines(path)] == [2, 4]
