"""The rules of `--resume FOLDER`, torch-free: what the folder must be, that nothing else is set with it (a run
continues with the settings it saved), and that a finished run is left as it is.

The recipe (`recipe.train(resume=...)`) applies them to every caller, Python included; the CLI applies them
first, before the ~3 s torch import. Which checkpoint a resume continues from is the recipe's (that reads
the checkpoints' tensors).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from seq2seq_adapters.config.fields import shown
from seq2seq_adapters.config.schema import ModelArgs, RunConfig, TrainArgs
from seq2seq_adapters.config.value_rules import MARKERS_AUTO
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import read_json, wrong_kind
from seq2seq_adapters.layout.artifact_folder import METADATA, read_info
from seq2seq_adapters.layout.checkpoint_folder import CHECKPOINT_RECORD, last_complete_checkpoint
from seq2seq_adapters.layout.run_folder import CONFIG_NAME, RunDir, adapter_of


@dataclass(frozen=True)
class ResumeRequest:
    """A checked `--resume FOLDER`: the run, and the settings it continues with (None: it is finished)."""

    run: RunDir
    config: RunConfig | None
    """The run's saved settings, its output folder set to FOLDER; None when run.json is written (nothing to resume)."""

    @property
    def finished(self) -> bool:
        return self.config is None


def resume_request(resume: Path, given: Sequence[str] = (), config: RunConfig | None = None) -> ResumeRequest:
    """Check `--resume FOLDER` before anything is built.

    `given`: the flags and settings the caller also gave (refused, named in the message). `config`: settings a
    Python caller passes along; refused where they differ from the saved ones, each named as `section.key=value`.
    A finished run is no error: resuming it again is safe, and changes nothing."""
    resume = Path(resume)
    run = RunDir(resume)
    config_file = run.saved_config
    if problem := wrong_kind(resume, want_folder=True):
        raise S2SAError(f"--resume {resume} {problem}")
    if not resume.is_dir():
        raise S2SAError(f"--resume {resume}: no such folder")
    if config_file is None:
        raise S2SAError(f"--resume {resume}: not a run folder (no {CONFIG_NAME})")
    if not os.access(resume, os.W_OK | os.X_OK):  # a read-only file system says so here, also to root
        raise S2SAError(f"--resume {resume}: cannot write in it (read-only file system, or no permission); a resume writes checkpoints there")
    if given:
        raise settings_given(config_file, given)
    if run.is_finished():
        return ResumeRequest(run, None)
    saved = run.read_config()
    saved.train.output_dir = str(resume)
    if edited := edited_model_settings(run, saved) + edited_optimizer_settings(run, saved):
        raise S2SAError(
            f"--resume {resume}: {CONFIG_NAME} no longer describes what its checkpoint trained ({', '.join(edited)}); "
            f"restore {CONFIG_NAME}, or start a new run with the new settings"
        )
    if config is not None and (changed := changed_settings(config, saved)):
        raise settings_given(config_file, changed)
    return ResumeRequest(run, saved)


MOVABLE_MODEL_SETTINGS = {"encoder", "decoder"}
"""Paths of the base checkpoints: a folder may move between sessions (the weights' shapes are checked at load)."""


def edited_model_settings(run: RunDir, saved: RunConfig) -> list[str]:
    """The model settings of run_config.json that differ from those the newest complete checkpoint was saved with
    (its adapter/s2sa.json), as `model.key: saved -> checkpoint`. A resume would load that checkpoint's adapter
    into a model built from the edited settings, and report the edited ones."""
    checkpoint = last_complete_checkpoint(run.root)
    if checkpoint is None or not (adapter_of(checkpoint) / METADATA).is_file():
        return []
    trained = read_info(adapter_of(checkpoint)).model
    edited = []
    for f in fields(ModelArgs):
        ours, theirs = getattr(saved.model, f.name), getattr(trained, f.name)
        if f.name in MOVABLE_MODEL_SETTINGS or ours == theirs or (f.name == "marker_tokens" and ours == MARKERS_AUTO):
            continue  # `auto` markers are resolved from the data when the run starts: the checkpoint holds the list
        edited.append(f"model.{f.name}: {shown(ours)} in {CONFIG_NAME}, {shown(theirs)} in {checkpoint.name}")
    return edited


OPTIMIZER_SETTINGS = ("optim", "lr_scheduler")
"""Train settings whose change makes a checkpoint's optimizer or scheduler state meaningless to load (adafactor's
state has no `beta1` for AdamW; a cosine schedule's state is not a linear one's)."""


def checkpoint_record(train: TrainArgs, data_fingerprint: str | None) -> dict:
    """What every checkpoint records (CHECKPOINT_RECORD) for a resume to compare: the optimizer settings and the
    training data's fingerprint."""
    return {**{key: getattr(train, key) for key in OPTIMIZER_SETTINGS}, "data_fingerprint": data_fingerprint}


def newest_record(run: RunDir) -> tuple[Path | None, dict]:
    """The newest complete checkpoint and its record ({} for a checkpoint saved before records were)."""
    checkpoint = last_complete_checkpoint(run.root)
    return checkpoint, (read_json(checkpoint / CHECKPOINT_RECORD) or {}) if checkpoint is not None else {}


def edited_optimizer_settings(run: RunDir, saved: RunConfig) -> list[str]:
    """The OPTIMIZER_SETTINGS of run_config.json that differ from the newest checkpoint's record, as
    `train.key: saved -> checkpoint` (loading its optimizer state would fail deep inside torch, or mislead)."""
    checkpoint, record = newest_record(run)
    return [
        f"train.{key}: {shown(getattr(saved.train, key))} in {CONFIG_NAME}, {shown(record[key])} in {checkpoint.name}"
        for key in OPTIMIZER_SETTINGS
        if key in record and record[key] != getattr(saved.train, key)
    ]


def data_change(run: RunDir, fingerprint: str) -> str | None:
    """A warning when the training data differ from those the newest checkpoint trained on (the run goes on: data
    may move or be fixed between sessions, but the user should know)."""
    checkpoint, record = newest_record(run)
    before = record.get("data_fingerprint")
    if before is None or before == fingerprint:
        return None
    return (f"--resume {run.root}: the training data differ from those {checkpoint.name} trained on (fingerprint {before[:12]} then, "
            f"{fingerprint[:12]} now); training goes on with the data as they are now")


def settings_given(config_file: Path, given: Sequence[str]) -> S2SAError:
    """The refusal of settings given with `--resume`, naming them."""
    return S2SAError(f"--resume continues with the settings saved in {config_file}; drop {', '.join(given)}")


def changed_settings(config: RunConfig, saved: RunConfig) -> list[str]:
    """The settings of `config` that differ from `saved` (the output folder aside: a resume writes into its run)."""
    ours, theirs = config.to_dict(), saved.to_dict()
    return [
        f"{section}.{key}={value}"
        for section, values in ours.items()
        for key, value in values.items()
        if value != theirs[section][key] and (section, key) != ("train", "output_dir")
    ]
