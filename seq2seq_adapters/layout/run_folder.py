"""The layout of a run folder: every path `s2sa train` writes there, named once.

    runs/<adapter-name>-<timestamp>/
      run_config.json             resolved settings (read by --resume, eval); older runs: config.json
      run.json                    record: versions, data, parameter counts, timings, validation ROUGE
      adapter/                    the final artifact (artifacts.py)
      checkpoints/checkpoint-N/   resumable checkpoints, each with its own adapter/
      metrics.jsonl               one line per logging step
      tensorboard/                event files (--report-to tensorboard)
      curves.png                  loss, learning rate, validation loss and ROUGE against steps
      rouge_<split>.json/.md, predictions_<split>.jsonl   reports of the final validation summaries
      eval-<split>/               what `s2sa eval` writes
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from seq2seq_adapters.config.legacy import saved_run_config
from seq2seq_adapters.config.schema import ModelArgs, RunConfig
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import check_output_dir, too_long
from seq2seq_adapters.layout.split_report import SplitReport

CONFIG_NAME = "run_config.json"
"""Not `config.json`: that name says "transformers model config" to every tool that opens the folder."""
LEGACY_CONFIG_NAME = "config.json"
"""What runs written before the rename call their settings file; still read."""
ADAPTER_DIR = "adapter"
CHECKPOINTS_DIR = "checkpoints"


def adapter_of(folder: Path) -> Path:
    """The artifact folder of a run or of one of its checkpoints."""
    return Path(folder) / ADAPTER_DIR


def input_paths(data: str | None, model: ModelArgs) -> dict[str, Path]:
    """A run's local inputs (--data, --encoder, --decoder) by what they are: no output folder may replace them."""
    inputs = {}
    for name, value in (("data", data), ("encoder", model.encoder), ("decoder", model.decoder)):
        if value and (problem := too_long(Path(value))):  # no hub id is that long either
            raise S2SAError(f"--{name} {value} {problem}")
        if value and Path(value).expanduser().exists():
            inputs[f"--{name} {value}"] = Path(value).expanduser()
    return inputs


@dataclass(frozen=True)
class RunDir:
    """A run folder and the paths inside it."""

    root: Path

    @property
    def config(self) -> Path:
        """Where a new run writes its settings."""
        return self.root / CONFIG_NAME

    @property
    def saved_config(self) -> Path | None:
        """The settings file of an existing run (the new name first, then the old one), or None."""
        return next((path for path in (self.config, self.root / LEGACY_CONFIG_NAME) if path.is_file()), None)

    @property
    def record(self) -> Path:
        return self.root / "run.json"

    @property
    def adapter(self) -> Path:
        return adapter_of(self.root)

    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS_DIR

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def curves(self) -> Path:
        return self.root / "curves.png"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    def report(self, split: str) -> Path:
        """The ROUGE report (JSON) of the final validation summaries, `rouge_<split>.json`."""
        return SplitReport(self.root, split).rouge_json

    def eval_dir(self, split: str) -> Path:
        """Where `s2sa eval` writes by default."""
        return self.root / f"eval-{split}"

    def is_run(self) -> bool:
        return self.saved_config is not None

    def is_finished(self) -> bool:
        """Training and its reports are done: run.json is the last file a run writes."""
        return self.record.is_file()

    def read_config(self) -> RunConfig:
        """The run's resolved settings; a missing or malformed file is a one-line error."""
        path = self.saved_config
        if path is None:
            raise S2SAError(f"{self.root} is not a run folder (no {CONFIG_NAME})")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # a decoding error is a ValueError too
            raise S2SAError(f"{path} is not a valid run config (JSON object): {str(exc).splitlines()[0]}") from None
        if not isinstance(raw, dict):
            raise S2SAError(f"{path} is not a valid run config (JSON object): it holds a {type(raw).__name__}")
        return RunConfig.from_dict(saved_run_config(raw, path), source=str(path))

    def check_new(self, overwrite: bool, config: RunConfig) -> None:
        """The output-folder guard for a new run: the run's own inputs (--data, --encoder, --decoder) are protected."""
        check_output_dir(self.root, overwrite, input_paths(config.data.data, config.model), alternative=f" or --resume {self.root}")

    @classmethod
    def of_artifact(cls, artifact_dir: Path) -> tuple[RunDir | None, bool]:
        """The run of `<run>/adapter` or `<run>/checkpoints/checkpoint-N/adapter`, and whether it is the final adapter."""
        artifact_dir = Path(artifact_dir).resolve()
        if artifact_dir.name == ADAPTER_DIR and cls(artifact_dir.parent).is_run():
            return cls(artifact_dir.parent), True
        if len(artifact_dir.parents) > 2 and artifact_dir.parents[1].name == CHECKPOINTS_DIR:
            run = cls(artifact_dir.parents[2])
            if run.is_run():
                return run, False
        return None, False
