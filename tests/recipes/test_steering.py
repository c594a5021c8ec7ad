"""Steering a run: ROUGE during training picks the best checkpoint, patience stops early, --max-time stops at a
step boundary with a checkpoint and the report; the Trainer's pass-throughs, TensorBoard and curves.png."""

from __future__ import annotations

import json
import re

from safetensors.torch import load_file
from tiny import SIX_STEPS, read_jsonl, tiny_run_config, train_tiny

from seq2seq_adapters.evaluation.curves import plot_curves
from seq2seq_adapters.layout.checkpoint_folder import CHECKPOINT_COMPLETE
from seq2seq_adapters.layout.run_folder import RunDir
from seq2seq_adapters.training.trainer import training_arguments

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_rouge_picks_the_best_checkpoint_and_patience_stops_early(tiny_bert, dialog_jsonl, tmp_path):
    config = tiny_run_config(tiny_bert, dialog_jsonl, tmp_path / "run", SIX_STEPS, train={
        "max_steps": 40, "eval_steps": 2, "save_steps": None, "metric_for_best": "rougeL", "patience": 1, "eval_rouge_samples": 8,
        "eval_greedy": True,
    })
    train_tiny(config)
    run = RunDir(tmp_path / "run")
    record = json.loads(run.record.read_text())
    evaluations = [line for line in read_jsonl(run.metrics) if "eval_loss" in line]
    assert record["global_step"] < 40 and len(evaluations) >= 2
    assert all({"eval_rouge1", "eval_rouge2", "eval_rougeL", "eval_rougeLsum"} <= set(line) for line in evaluations)
    best = record["best_checkpoint"]
    assert best["metric"] == "eval_rougeL" and best["value"] == max(line["eval_rougeL"] for line in evaluations)
    best_adapter = run.checkpoints / f"checkpoint-{best['step']}" / "adapter"
    for weights in best_adapter.glob("*.safetensors"):
        final, chosen = load_file(run.adapter / weights.name), load_file(weights)
        assert final.keys() == chosen.keys() and all((final[k] == chosen[k]).all() for k in final)


def test_max_time_stops_at_a_step_boundary_with_checkpoint_and_report(tiny_bert, dialog_jsonl, tmp_path):
    config = tiny_run_config(tiny_bert, dialog_jsonl, tmp_path / "run", SIX_STEPS, train={"max_steps": 100_000, "save_steps": None, "max_time": "5s"})
    console_text = train_tiny(config).console
    run = RunDir(tmp_path / "run")
    record = json.loads(run.record.read_text())
    budget = record["time_budget"]
    step_line = r"step \d+/\d+ · loss \d+\.\d+ · lr \S+ · \d+\.\d samples/s · elapsed \d+:\d\d:\d\d · ETA \d+:\d\d:\d\d"  # hours: before the first plan the total is 100,000
    assert len(re.findall(step_line, console_text)) == len([line for line in read_jsonl(run.metrics) if "loss" in line])
    assert budget["stopped_by_budget"] and budget["max_time_s"] == 5.0
    assert budget["steps_reached"] == record["global_step"] < budget["planned_steps"] + 50
    last = run.checkpoints / f"checkpoint-{record['global_step']}"
    assert (last / CHECKPOINT_COMPLETE).is_file()
    assert run.report("validation").is_file()
    rates = [line["learning_rate"] for line in read_jsonl(run.metrics) if "learning_rate" in line]
    assert rates[-1] < 0.5 * max(rates)  # the schedule was planned to end with the budget, not at step 100,000


def test_trainer_pass_throughs_reach_the_trainer_and_train(tiny_bert, dialog_jsonl, tmp_path):
    changes = {"lr_scheduler": "cosine", "optim": "adafactor", "label_smoothing": 0.1, "gradient_checkpointing": True}
    config = tiny_run_config(tiny_bert, dialog_jsonl, tmp_path / "run", SIX_STEPS, train={"max_steps": 4, **changes})
    args = training_arguments(config, tmp_path / "run", has_validation=True)
    assert (args.lr_scheduler_type, args.optim, args.label_smoothing_factor, args.gradient_checkpointing) == ("cosine", "adafactor", 0.1, True)
    train_tiny(config)
    assert json.loads(RunDir(tmp_path / "run").record.read_text())["global_step"] == 4


def test_tensorboard_event_file_holds_loss_and_rouge(tiny_bert, dialog_jsonl, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = tiny_run_config(tiny_bert, dialog_jsonl, tmp_path / "run", SIX_STEPS, train={
        "max_steps": 4, "eval_steps": 2, "save_steps": None, "eval_rouge_samples": 4, "eval_greedy": True, "report_to": "tensorboard",
    })
    train_tiny(config)
    events = sorted(RunDir(tmp_path / "run").tensorboard.rglob("events.out.tfevents.*"))
    assert events
    scalars = set()
    for event_file in events:
        accumulator = EventAccumulator(str(event_file))
        accumulator.Reload()
        scalars |= set(accumulator.Tags()["scalars"])
    assert {"train/loss", "train/learning_rate", "eval/loss", "eval/rouge1", "eval/rougeL", "eval/rougeLsum"} <= scalars


def test_curves_png_holds_the_expected_series_and_is_linked_from_the_report(tiny_bert, dialog_jsonl, tmp_path):
    config = tiny_run_config(tiny_bert, dialog_jsonl, tmp_path / "run", SIX_STEPS, train={
        "max_steps": 4, "eval_steps": 2, "save_steps": None, "eval_rouge_samples": 4, "eval_greedy": True,
    })
    train_tiny(config)
    run = RunDir(tmp_path / "run")
    assert run.curves.read_bytes().startswith(PNG_SIGNATURE)
    assert "[curves.png](curves.png)" in (run.root / "rouge_validation.md").read_text()
    drawn = plot_curves({"run": run.metrics}, tmp_path / "again.png")
    assert set(drawn) == {
        "loss: training loss", "loss: validation loss", "learning rate: learning rate",
        *(f"validation ROUGE F1 x100: {kind}" for kind in ("rouge1", "rouge2", "rougeL", "rougeLsum")),
    }


def test_watched_evaluations_keep_the_last_step(tiny_bert, dialog_jsonl, tmp_path):
    """--no-keep-best-checkpoint: evaluated (curves, s2sa tune's pruning), but adapter/ is the last step's weights."""
    config = tiny_run_config(tiny_bert, dialog_jsonl, tmp_path / "run", SIX_STEPS, train={
        "max_steps": 6, "eval_steps": 2, "save_steps": None, "eval_rouge_samples": 4, "eval_greedy": True, "keep_best_checkpoint": False,
    })
    train_tiny(config)
    run = RunDir(tmp_path / "run")
    record = json.loads(run.record.read_text())
    assert record["best_checkpoint"] is None and len([line for line in read_jsonl(run.metrics) if "eval_loss" in line]) == 3
    last = run.checkpoints / "checkpoint-6" / "adapter"
    for weights in last.glob("*.safetensors"):
        final, chosen = load_file(run.adapter / weights.name), load_file(weights)
        assert all((final[k] == chosen[k]).all() for k in final)
