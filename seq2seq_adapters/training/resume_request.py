"""The rules of `--resume FOLDER`, torch-free: what the folder must be, that nothing else is set with it (a run
continues with the settings it saved), and that a finished run is left as it is.

The recipe (`recipe.train(resume=...)`) applies them to every caller, Python included; the CLI applies them
first, before the ~3 s torch import. Which checkpoint a resume continues from is the recipe's (that reads
the checkpoints' tensors).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from seq2seq_adapters.config.schema import RunConfig
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import wrong_kind
from seq2seq_adapters.layout.run_folder import CONFIG_NAME, RunDir


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
    if given:
        raise settings_given(config_file, given)
    if run.is_finished():
        return ResumeRequest(run, None)
    saved = run.read_config()
    saved.train.output_dir = str(resume)
    if config is not None and (changed := changed_settings(config, saved)):
        raise settings_given(config_file, changed)
    return ResumeRequest(run, saved)


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
