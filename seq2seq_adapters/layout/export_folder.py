"""What `s2sa export-adapter` will export and where, checked without torch: every path, --checkpoint and
weight-file mistake is reported within a second, before anything heavy loads or anything is written.

export.py then loads (only for --merge) and writes what the plan names.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from seq2seq_adapters.config.fields import flag_name
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import check_output_dir, read_json, wrong_kind
from seq2seq_adapters.layout.artifact_folder import METADATA, ArtifactInfo, read_info, verify_weight_files
from seq2seq_adapters.layout.checkpoint_folder import (
    checkpoint_step,
    complete_checkpoints,
    is_complete,
    last_complete_checkpoint,
)
from seq2seq_adapters.layout.run_folder import RunDir, adapter_of, input_paths


@dataclass
class ExportSource:
    """The artifact folder to export and how the model card describes it."""

    directory: Path
    description: str
    step: int | None


@dataclass
class ExportPlan:
    """A checked export: the run, its newest trainer state, the artifact to export and what it says."""

    run: RunDir
    state: dict[str, Any]
    source: ExportSource
    info: ArtifactInfo

    def check_output(self, output: Path, overwrite: bool) -> None:
        """The --output guard: checked when planning, and again by the writer once it holds the folder (another
        command may have written into it in between)."""
        run = self.run
        kept = {  # training replaces these folders, so an export inside them would vanish
            "the run's checkpoints/": run.checkpoints,
            "the run's adapter/": run.adapter,
            f"the exported weights {self.source.directory}": self.source.directory,
        }
        data = run.read_config().data.data if run.is_run() else None
        protected = {f"the run {run.root}": run.root, **kept, **input_paths(data, self.info.model)}
        check_output_dir(output, overwrite, protected, flag="--output", outside=kept)


def best_step(state: dict[str, Any]) -> int | None:
    """The step of trainer_state.json's best checkpoint, if the run kept one."""
    if not state.get("best_model_checkpoint"):
        return None
    if isinstance(state.get("best_global_step"), int):
        return state["best_global_step"]
    return checkpoint_step(Path(state["best_model_checkpoint"]))


def _complete_checkpoint(run_dir: Path, name: str) -> Path:
    """checkpoints/<name>/adapter, checked to exist and to have finished writing."""
    folder = RunDir(run_dir).checkpoints / name
    available = [p.name for p in complete_checkpoints(run_dir)]
    if not is_complete(folder) or not (adapter_of(folder) / METADATA).is_file():
        state = "is incomplete (interrupted while saving)" if folder.is_dir() else "does not exist"
        raise S2SAError(f"--checkpoint: {folder} {state}; complete checkpoints: {', '.join(available) or 'none'}")
    return adapter_of(folder)


def resolve_export_source(run_dir: Path, checkpoint: str | None, state: dict[str, Any]) -> ExportSource:
    """Map --checkpoint (None, best, last or a step) onto an artifact folder of the run."""
    run = RunDir(run_dir)
    if checkpoint is not None and not run.checkpoints.is_dir():
        raise S2SAError(f"--checkpoint {checkpoint}: {run_dir} has no checkpoints/ folder")
    best = best_step(state)
    if checkpoint is None or (checkpoint == "best" and best is None):
        final = run.adapter
        if not (final / METADATA).is_file():
            raise S2SAError(
                f"{run_dir} has no final adapter/ (the run did not finish?); "
                "pass --checkpoint last to export its newest complete checkpoint"
            )
        if best is not None:
            return ExportSource(final, f"the run's final `adapter/` (its best checkpoint, step {best})", best)
        step = (read_json(run.record) or {}).get("global_step", state.get("global_step"))
        return ExportSource(final, f"the run's final `adapter/` (after step {step})", step)
    if checkpoint == "best":
        name = Path(state["best_model_checkpoint"]).name
        return ExportSource(_complete_checkpoint(run_dir, name), f"`checkpoints/{name}` (best checkpoint)", best)
    if checkpoint == "last":
        last = last_complete_checkpoint(run_dir)
        if last is None:
            raise S2SAError(f"--checkpoint last: no complete checkpoint under {run_dir / 'checkpoints'}")
        return ExportSource(adapter_of(last), f"`checkpoints/{last.name}` (newest checkpoint)", checkpoint_step(last))
    if checkpoint.isdigit():
        name = f"checkpoint-{int(checkpoint)}"
        return ExportSource(_complete_checkpoint(run_dir, name), f"`checkpoints/{name}`", int(checkpoint))
    raise S2SAError(f"--checkpoint {checkpoint!r}: expected best, last or a step number")


def quantized_info(info: ArtifactInfo, quantize: str | None, merge: bool) -> ArtifactInfo:
    """The artifact's info with --quantize recorded in its decoding settings (None: as the run had it)."""
    if quantize is None:
        return info
    generation = replace(info.generation, quantize=quantize)
    if problems := generation.problems(flag_name):
        raise S2SAError("; ".join(problems))
    if merge and quantize != "none":
        raise S2SAError(
            f"--quantize {quantize} is recorded for s2sa to apply when it loads an adapter export; a --merge export is a plain "
            "transformers model: export without --quantize and quantise after loading (torch.ao.quantization.quantize_dynamic)"
        )
    return replace(info, generation=generation)


def plan_export(
    run_dir: Path, output: Path, *, checkpoint: str | None, overwrite: bool, quantize: str | None = None, merge: bool = False
) -> ExportPlan:
    """Check the run folder, --checkpoint, the artifact's s2sa.json and weight files, --quantize and --output."""
    if problem := wrong_kind(run_dir, want_folder=True):
        raise S2SAError(f"{run_dir} {problem} (expected a run folder or an exported adapter folder)")
    if not run_dir.is_dir():
        raise S2SAError(f"run folder not found: {run_dir}")
    run = RunDir(run_dir)
    last = last_complete_checkpoint(run_dir)
    state = (read_json(last / "trainer_state.json") or {}) if last else {}
    if checkpoint is None and (run_dir / METADATA).is_file():  # an artifact folder, e.g. an earlier export
        source = ExportSource(run_dir, f"`{run_dir.name}/`", None)
    else:
        source = resolve_export_source(run_dir, checkpoint, state)
    plan = ExportPlan(run=run, state=state, source=source, info=quantized_info(read_info(source.directory), quantize, merge))
    plan.check_output(output, overwrite)
    verify_weight_files(source.directory)
    return plan
