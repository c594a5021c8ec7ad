"""Find and load trained weights for `s2sa eval` (evaluation/evaluate_run.py) and `Summarizer` (summarizer.py).

A *source* is a run folder (`runs/<name>-<time>`, its `adapter/` is loaded), a checkpoint folder, or an
exported adapter folder (`s2sa export-adapter`). The base encoder/decoder come from its `s2sa.json`
(overridable), the decoding settings too (each overridable), and, for a run, the data it was trained on
from its saved settings (`RunDir.read_config`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seq2seq_adapters.config.fields import flag_name
from seq2seq_adapters.config.schema import GenerationArgs, RunConfig
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import reading_folder
from seq2seq_adapters.layout.artifact_folder import ArtifactInfo, read_info, resolve_artifact_dir, verify_weight_files
from seq2seq_adapters.layout.run_folder import RunDir

if TYPE_CHECKING:
    from seq2seq_adapters.model.builder import BuiltModel


@dataclass
class Source:
    """Trained weights on disk and what their folders say about how they were trained."""

    artifact_dir: Path
    run_dir: Path | None
    """The run folder when the source is a run (or one of its checkpoints); None for an exported adapter."""
    info: ArtifactInfo
    is_final: bool
    """Whether the weights are the run's final adapter (so run.json's validation scores describe them)."""

    @property
    def name(self) -> str:
        """A short label for tables: the run folder's name, else the adapter folder's."""
        return (self.run_dir or self.artifact_dir).name

    @property
    def run(self) -> RunDir | None:
        return RunDir(self.run_dir) if self.run_dir else None

    @property
    def home(self) -> Path:
        """Where eval results go by default: the run folder, else the adapter folder."""
        return self.run_dir if self.is_final and self.run_dir else self.artifact_dir


def locate(path: str | Path) -> Source:
    """Find the weights of a run / checkpoint / exported adapter folder, read their metadata and check that the
    weight files are whole (cheap: no torch)."""
    artifact_dir = resolve_artifact_dir(path).resolve()
    run, is_final = RunDir.of_artifact(artifact_dir)
    info = read_info(artifact_dir)
    verify_weight_files(artifact_dir)
    return Source(artifact_dir, run.root if run else None, info, is_final)


def check_base_code(source: Source, encoder: str | None = None, decoder: str | None = None, *, trust_remote_code: bool = False) -> None:
    """Refuse base checkpoints that carry their own code unless the caller allows it (cheap: no torch)."""
    from seq2seq_adapters.model.remote_code import check_checkpoint_code

    margs = source.info.model
    check_checkpoint_code([encoder or margs.encoder, decoder or margs.decoder], trust_remote_code)


def load_model(
    source: Source, encoder: str | None = None, decoder: str | None = None, *, trust_remote_code: bool = False,
    device: str | None = None,
) -> BuiltModel:
    """Build the base model, load the trained weights, and move it to `device` (default: inference_device)."""
    from seq2seq_adapters.model.artifact_io import (
        load_artifact,  # heavy: after the cheap checks (locate, settings, data, output)
    )

    summarizer, _ = load_artifact(source.artifact_dir, encoder=encoder, decoder=decoder, trust_remote_code=trust_remote_code)
    summarizer.model.to(device or inference_device())
    return summarizer


def inference_device() -> str:
    """The GPU when there is one: generation is several times faster there."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_source(
    path: str | Path, encoder: str | None = None, decoder: str | None = None, *, trust_remote_code: bool = False
) -> tuple[Source, BuiltModel]:
    """`locate` + `load_model`, the folder held for reading meanwhile."""
    source = locate(path)
    with reading(source):
        return source, load_model(source, encoder, decoder, trust_remote_code=trust_remote_code)


def reading(source: Source) -> contextlib.AbstractContextManager[None]:
    """Hold the weights' folder (the run, or the exported adapter) for reading: a `train` writing it, or an
    `--overwrite` replacing it, would change or delete the files under the loader."""
    return reading_folder(source.run_dir or source.artifact_dir, "weights folder")


def generation_settings(stored: GenerationArgs, overrides: dict[str, Any] | None = None) -> GenerationArgs:
    """The decoding settings stored with the weights, with the given (non-None) values replacing them, checked
    as the flags are."""
    names = [f.name for f in fields(GenerationArgs)]
    if unknown := sorted(set(overrides or {}) - set(names)):
        raise S2SAError(f"not decoding settings: {', '.join(unknown)}; they are {', '.join(names)}")
    gen = replace(stored, **{k: v for k, v in (overrides or {}).items() if v is not None})
    problems = gen.problems(flag_name)
    if problems:
        raise S2SAError("; ".join(problems))
    return gen


def run_config(source: Source) -> RunConfig | None:
    """The run's resolved settings, or None for an exported adapter."""
    return source.run.read_config() if source.run else None
