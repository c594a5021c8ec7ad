"""The rules of `--resume` hold for a Python call of the recipe too (`train(resume=...)`), with the CLI's messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seq2seq_adapters.config.schema import RunConfig
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.layout.checkpoint_folder import CHECKPOINT_COMPLETE, CHECKPOINT_RECORD
from seq2seq_adapters.layout.run_folder import RunDir
from seq2seq_adapters.training.recipe import train
from seq2seq_adapters.training.resume_request import (
    checkpoint_record,
    data_change,
    edited_optimizer_settings,
    resume_request,
)


def run_folder(root: Path, *, finished: bool = False) -> Path:
    """A run folder as `s2sa train` leaves it: its settings, and run.json once it is finished."""
    root.mkdir()
    config = RunConfig()
    config.train.output_dir = "runs/original-place"
    (root / "run_config.json").write_text(json.dumps(config.to_dict()))
    if finished:
        (root / "run.json").write_text(json.dumps({"train_samples_per_s": 3.5, "train_loss": 6.4, "rouge_validation": {"rouge1": 30.0}}))
    return root


def folder_state(root: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "gone", "--resume {path}: no such folder"),
        (lambda tmp: (tmp / "file").write_text("x") and tmp / "file", "--resume {path} is a file, not a folder"),
        (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", "--resume {path}: not a run folder (no run_config.json)"),
    ],
    ids=["missing", "a-file", "not-a-run"],
)
def test_a_python_call_gets_the_cli_refusals(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(S2SAError) as refused:
        train(resume=path)
    assert str(refused.value) == message.format(path=path)


def test_settings_given_with_resume_are_named_and_refused(tmp_path):
    run = run_folder(tmp_path / "run")
    with pytest.raises(S2SAError, match=r"continues with the settings saved in .*run_config.json; drop --max-steps, generation.num_beams=3$"):
        resume_request(run, ["--max-steps", "generation.num_beams=3"])
    with pytest.raises(S2SAError, match=r"; drop overwrite=True$"):
        train(resume=run, overwrite=True)


def test_a_python_config_may_only_repeat_the_saved_settings(tmp_path):
    run = run_folder(tmp_path / "run")
    saved = resume_request(run).config
    assert saved is not None and saved.train.output_dir == str(run)  # the run continues where it is
    assert resume_request(run, config=RunConfig()).config == saved  # the same settings (any output folder)
    changed = RunConfig()
    changed.train.max_steps, changed.generation.num_beams = 5, 3
    with pytest.raises(S2SAError, match=r"; drop train.max_steps=5, generation.num_beams=3$"):
        train(changed, resume=run)


def test_resuming_a_finished_run_changes_nothing_and_returns_its_record(tmp_path):
    run = run_folder(tmp_path / "run", finished=True)
    before = folder_state(run)
    result = train(resume=run)
    assert (result.output_dir, result.train_samples_per_s, result.train_loss, result.rouge) == (run, 3.5, 6.4, {"rouge1": 30.0})
    assert folder_state(run) == before
    assert resume_request(run).finished


def test_train_needs_a_config_or_a_run_to_resume():
    with pytest.raises(TypeError, match="needs a config"):
        train()


def with_checkpoint(root: Path, record: dict | None) -> Path:
    """A complete checkpoint-4 in the run, with `record` as its s2sa_training.json (None: saved before records)."""
    checkpoint = root / "checkpoints" / "checkpoint-4"
    checkpoint.mkdir(parents=True)
    (checkpoint / CHECKPOINT_COMPLETE).write_text("ok\n")
    if record is not None:
        (checkpoint / CHECKPOINT_RECORD).write_text(json.dumps(record))
    return root


def test_a_checkpoints_optimizer_record_is_compared_and_its_data_fingerprint_reported(tmp_path):
    saved = RunConfig()
    run = RunDir(with_checkpoint(run_folder(tmp_path / "run"), checkpoint_record(saved.train, "abc123" * 8)))
    assert edited_optimizer_settings(run, saved) == [] and data_change(run, "abc123" * 8) is None
    saved.train.optim, saved.train.lr_scheduler = "adafactor", "cosine"
    assert edited_optimizer_settings(run, saved) == [
        "train.optim: 'adafactor' in run_config.json, 'adamw_torch' in checkpoint-4",
        "train.lr_scheduler: 'cosine' in run_config.json, 'linear' in checkpoint-4",
    ]
    assert "fingerprint abc123abc123 then, def456def456 now" in data_change(run, "def456" * 8)


def test_a_checkpoint_saved_before_records_is_not_compared(tmp_path):
    saved = RunConfig()
    saved.train.optim = "adafactor"
    run = RunDir(with_checkpoint(run_folder(tmp_path / "run"), None))
    assert edited_optimizer_settings(run, saved) == [] and data_change(run, "x") is None


def test_a_run_on_a_read_only_file_system_is_refused_before_anything(tmp_path, monkeypatch):
    import os

    run = with_checkpoint(run_folder(tmp_path / "run"), None)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if Path(path) == run else real_access(path, mode))  # root writes anywhere else
    with pytest.raises(S2SAError, match="--resume .*run: cannot write in it \\(read-only file system, or no permission\\)"):
        resume_request(run)
