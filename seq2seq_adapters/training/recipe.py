"""The train recipe, torchtune style: `setup` (checks, data, model, run folder, Trainer) -> `fit` (train, or
continue from a checkpoint) -> `finalize` (adapter, validation report, curves, run.json).

It only builds, runs and records: the Trainer and its arguments are trainer.py, the rules of `--resume` are
resume_request.py (applied here to every caller, Python included).
"""

from __future__ import annotations

import contextlib
import json
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import transformers
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from transformers import EarlyStoppingCallback, TrainerCallback, TrainerState
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import TrainOutput

from seq2seq_adapters import __version__
from seq2seq_adapters.config.schema import RunConfig, TrainArgs
from seq2seq_adapters.config.value_rules import MARKERS_AUTO, MARKERS_MIN_COUNT, MARKERS_NONE
from seq2seq_adapters.core.distributed import broadcast, is_main_process, main_process_first, world_size
from seq2seq_adapters.core.errors import S2SAError, S2SAWarning
from seq2seq_adapters.core.files import (
    DiskFull,
    atomic_write_json,
    atomic_write_text,
    empty_folder,
    mark_as_written,
    naming_a_full_disk,
    output_path,
    read_json,
    writing_folder,
)
from seq2seq_adapters.core.progress import progress_bar, tracked
from seq2seq_adapters.data.dataset import SummarizationData, load_summarization_data
from seq2seq_adapters.data.tokenization import tokenize_splits
from seq2seq_adapters.evaluation.curves import write_run_curves
from seq2seq_adapters.evaluation.reports import parameter_summary, parameter_table
from seq2seq_adapters.evaluation.split_scoring import evaluate_split
from seq2seq_adapters.generation.decoding import check_decoder_room
from seq2seq_adapters.generation.long_documents import Overflow, measure_overflow
from seq2seq_adapters.layout.checkpoint_folder import checkpoint_step, last_complete_checkpoint
from seq2seq_adapters.layout.run_folder import RunDir, adapter_of
from seq2seq_adapters.model.artifact_io import ArtifactInfo, load_trained_weights, save_artifact
from seq2seq_adapters.model.builder import BuiltModel, build_summarizer, parameter_groups
from seq2seq_adapters.model.marker_tokens import training_markers
from seq2seq_adapters.model.remote_code import check_checkpoint_code
from seq2seq_adapters.training.checkpointing import loadable_checkpoint
from seq2seq_adapters.training.interrupts import GracefulStop, TrainingInterrupted, stop_on_signals
from seq2seq_adapters.training.metrics_log import MetricsFileCallback
from seq2seq_adapters.training.resume_request import data_change, resume_request
from seq2seq_adapters.training.running_loss import LossBook
from seq2seq_adapters.training.step_lines import StepLines
from seq2seq_adapters.training.time_budget import TimeBudget
from seq2seq_adapters.training.trainer import SummarizationTrainer, build_trainer
from seq2seq_adapters.training.validation_rouge import ValidationRouge


class RichProgressCallback(TrainerCallback):
    """Show training progress with Rich instead of tqdm; the latest loss rides along."""

    def __init__(self, console: Console):
        self.console = console
        self.progress: Progress | None = None
        self.task = None

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.progress = progress_bar(self.console)
            self.task = self.progress.add_task("training", total=state.max_steps, completed=state.global_step, info="")
            self.progress.start()

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.progress is not None and logs and "loss" in logs:
            self.progress.update(self.task, info=f"loss {logs['loss']:.3f}")

    def on_train_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def progress_callback(console: Console, budget: TimeBudget | None) -> TrainerCallback:
    """A Rich bar on a terminal; plain step lines in a log file or pipe (total: the budget's planned steps)."""
    if console.is_terminal:
        return RichProgressCallback(console)
    return StepLines(console, lambda: budget.planned_steps if budget else None)


@dataclass
class TrainResult:
    """Where a finished run wrote its files, and its headline numbers."""

    output_dir: Path
    train_samples_per_s: float | None
    """None when a resumed session trained no step (it only wrote the final adapter and report)."""
    train_loss: float
    rouge: dict


def default_output_dir(config: RunConfig) -> Path:
    """runs/<adapter-name>-<timestamp>."""
    name = "full-finetune" if config.model.full_finetune else config.model.adapter_name
    return Path("runs") / f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def prepare_output_dir(path: Path, overwrite: bool, config: RunConfig) -> None:
    """Check again (see RunDir.check_new; the folder is locked now), empty it if --overwrite allows it (the folder
    itself stays: it holds the lock), create it and mark it as s2sa's."""
    RunDir(path).check_new(overwrite, config)
    if path.is_dir():
        empty_folder(path)
    path.mkdir(parents=True, exist_ok=True)
    mark_as_written(path)


def resolve_lengths(config: RunConfig, summarizer: BuiltModel) -> tuple[int, int]:
    """Source/target lengths, checked against the encoder's and decoder's position limits."""
    encoder_limit = summarizer.model.config.encoder.max_position_embeddings
    decoder_limit = summarizer.model.config.decoder.max_position_embeddings
    source = config.data.max_source_length or min(512, encoder_limit)
    if source > encoder_limit:
        raise S2SAError(f"--max-source-length {source} is above the encoder's position limit {encoder_limit}")
    if config.data.max_target_length > decoder_limit:
        raise S2SAError(
            f"--max-target-length {config.data.max_target_length} is above the decoder's position limit {decoder_limit}"
        )
    check_decoder_room(summarizer.model, config.generation)
    return source, config.data.max_target_length


def library_versions() -> dict[str, str]:
    """Versions of the libraries that decide a run's numbers."""
    import adapters
    import datasets
    import torch

    return {
        "seq2seq_adapters": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "adapters": adapters.__version__,
        "datasets": datasets.__version__,
    }


def tokenize_data(config: RunConfig, data: SummarizationData, summarizer: BuiltModel, console: Console):
    """Say which columns were used, tokenize the splits with a progress bar, and say how many training
    documents the source limit cuts."""
    console.print(
        f"data: {escape(data.source)} · text column [bold]{escape(data.text_column)}[/] · "
        f"summary column [bold]{escape(data.summary_column)}[/]"
        + "".join(f" · {split}: {len(ds)}" for split, ds in data.splits.items())
    )
    if any(data.skipped.values()):
        console.print(f"[yellow]skipped rows with empty or non-text cells: {data.skipped}")
    source_length, target_length = resolve_lengths(config, summarizer)
    with tracked(console, "tokenizing", sum(len(ds) for ds in data.splits.values())) as advance:
        tokenized = tokenize_splits(data.splits, summarizer.tokenizer, source_length, target_length, progress=advance)
    overflow = measure_overflow(summarizer.tokenizer, data.splits["train"]["document"], source_length)
    console.print(f"train documents: {overflow.describe()}", highlight=False)
    return tokenized, source_length, overflow


def write_run_record(path: Path, config: RunConfig, data: SummarizationData, parameters: dict, extra: dict) -> None:
    """run.json: settings, versions, data fingerprint, trainable counts and timings."""
    atomic_write_json(
        path,
        {
            "encoder": config.model.encoder,
            "decoder": config.model.decoder,
            "config": config.to_dict(),
            "versions": library_versions(),
            "data": {
                "source": data.source,
                "fingerprint": data.fingerprint,
                "text_column": data.text_column,
                "summary_column": data.summary_column,
                "license": data.license,
                "sizes": {split: len(ds) for split, ds in data.splits.items()},
                "validation_carved": data.validation_carved,
                "skipped": data.skipped,
            },
            "parameters": parameters,
            **extra,
        },
    )


@dataclass
class Session:
    """A run being trained: what `setup` builds for `fit` and `finalize`."""

    config: RunConfig
    run: RunDir
    checkpoint: Path | None
    """The complete checkpoint a resumed run continues from; None for a new run."""
    summarizer: BuiltModel
    data: SummarizationData
    trainer: SummarizationTrainer
    parameters: dict
    """Parameter counts per group (reports.parameter_summary), for the table and run.json."""
    source_length: int
    console: Console
    start: float
    overflow: Overflow
    """How many training documents exceed the source limit, for run.json."""
    budget: TimeBudget | None = None
    """The `--max-time` callback, for run.json; None without a budget."""


def train(config: RunConfig | None = None, *, overwrite: bool = False, resume: Path | None = None,
          console: Console | None = None, trust_remote_code: bool = False, callbacks: Sequence[TrainerCallback] = ()) -> TrainResult:
    """The recipe: set up (checks, model, data, run folder, trainer), fit, finalize (adapter, report, run.json).

    `resume`: continue that run folder with the settings it saved (the rules of resume_request.py: `config`
    may only repeat them, `overwrite` is refused); a finished run is left as it is and its record returned.
    `trust_remote_code`: the caller's permission for the checkpoints' own code (model/remote_code.py), not a setting.
    `callbacks`: more Trainer callbacks (s2sa tune's pruning), after s2sa's own."""
    if resume is not None:
        request = resume_request(resume, ["overwrite=True"] if overwrite else [], config)
        if request.finished:
            return recorded_result(request.run)
        config = request.config
    elif config is None:
        raise TypeError("train() needs a config, or resume: the folder of a run to continue")
    resolved = resolve_run(config, overwrite, resume)
    with contextlib.ExitStack() as held:
        if is_main_process():  # the run folder is this command's until it ends: a second writer is refused
            held.enter_context(writing_folder(resolved[0].root, "--output-dir" if resume is None else "--resume"))
        session = setup(config, overwrite=overwrite, resume=resume, console=console, trust_remote_code=trust_remote_code, resolved=resolved,
                        callbacks=callbacks)
        try:
            return finalize(session, fit(session))
        except DiskFull as exc:
            checkpoint, root = last_complete_checkpoint(session.run.root), session.run.root
            then = f"the last complete checkpoint is {checkpoint}; free some space and continue with: s2sa train --resume {root}"
            raise DiskFull(f"{exc}; {then if checkpoint else 'no checkpoint was saved; free some space and start again'}") from None


def recorded_result(run: RunDir) -> TrainResult:
    """A finished run's result as its run.json records it."""
    record = read_json(run.record) or {}
    return TrainResult(run.root, record.get("train_samples_per_s"), record.get("train_loss"), record.get("rouge_validation") or {})


def resolve_run(config: RunConfig, overwrite: bool, resume: Path | None) -> tuple[RunDir, Path | None]:
    """The run folder and, when resuming, the checkpoint to continue from; checked before anything is built."""
    if resume is not None:
        checkpoint, damaged = loadable_checkpoint(resume)
        if checkpoint is None and not damaged:
            raise S2SAError(
                f"--resume {resume}: no complete checkpoint under {resume / 'checkpoints'} (stopped before the first "
                f"save); start again with --output-dir {resume} --overwrite"
            )
        if checkpoint is None:
            raise S2SAError(f"--resume {resume}: no checkpoint can be loaded: {'; '.join(damaged)}; start again with --output-dir {resume} --overwrite")
        if damaged:
            warnings.warn(f"--resume {resume}: passed over {'; '.join(damaged)}; resuming from {checkpoint.name}", S2SAWarning)
        return RunDir(output_path(resume)), checkpoint
    output_dir = output_path(config.train.output_dir) if config.train.output_dir else broadcast(default_output_dir(config))
    RunDir(output_dir).check_new(overwrite, config)  # fail fast; nothing is deleted before all inputs check out
    return RunDir(output_dir), None


def setup(config: RunConfig, *, overwrite: bool, resume: Path | None, console: Console | None, trust_remote_code: bool = False,
          resolved: tuple[RunDir, Path | None] | None = None, callbacks: Sequence[TrainerCallback] = ()) -> Session:
    """Load the data, build the model, tokenize, prepare the run folder and the Trainer (`resolved`: what
    `resolve_run` returned, when the caller checked and locked the folder already)."""
    console = console or Console(stderr=True)
    if not is_main_process():
        console = Console(stderr=True, quiet=True)
    start = time.perf_counter()
    transformers.set_seed(config.train.seed)
    run, checkpoint = resolved or resolve_run(config, overwrite, resume)
    check_checkpoint_code([config.model.encoder, config.model.decoder], trust_remote_code)
    output_dir = run.root
    with main_process_first():  # before the model: a data mistake (missing column, no usable row) needs no checkpoint
        data = load_summarization_data(config.data, seed=config.train.seed)
    if resume is not None and (changed := data_change(run, data.fingerprint)):
        warnings.warn(changed, S2SAWarning)
    if config.model.marker_tokens == MARKERS_AUTO:
        markers = training_markers(data.splits["train"])
        config.model.marker_tokens = ",".join(markers) or MARKERS_NONE
        console.print(f"markers as single tokens: {', '.join(markers) or f'none (no #Word# tag seen {MARKERS_MIN_COUNT}+ times in the training data)'}",
                      highlight=False, markup=False)
    summarizer = build_summarizer(config.model, trust_remote_code=trust_remote_code)
    with main_process_first():
        tokenized, source_length, overflow = tokenize_data(config, data, summarizer, console)
    if resume is None and is_main_process():
        prepare_output_dir(output_dir, overwrite, config)
        with naming_a_full_disk(run.config):
            atomic_write_text(run.config, json.dumps(config.to_dict(), indent=2))
    parameters = parameter_summary(parameter_groups(summarizer))
    console.print(parameter_table(parameters))
    t = config.train
    console.print(
        f"effective batch size {effective_batch_size(t)} "
        f"= {t.batch_size} per device x {world_size()} process(es) x {t.grad_accum} accumulation"
    )
    info = ArtifactInfo(
        model=config.to_dict()["model"],
        generation=config.to_dict()["generation"],
        new_weight_names=summarizer.new_weight_names,
        max_source_length=source_length,
    )
    budget = TimeBudget(t.max_time_s) if t.max_time_s else None
    steering = [EarlyStoppingCallback(t.patience)] if t.patience else []
    trainer = build_trainer(
        config,
        summarizer,
        tokenized,
        output_dir,
        info,
        [MetricsFileCallback(run.metrics), progress_callback(console, budget), *steering, *([budget] if budget else []), *callbacks],
        ValidationRouge.from_settings(data.splits["validation"], t, config.generation, source_length) if t.eval_steps else None,
        data.fingerprint,
    )
    return Session(config, run, checkpoint, summarizer, data, trainer, parameters, source_length, console, start, overflow, budget)


def fit(session: Session) -> TrainOutput:
    """Train (from the checkpoint when resuming); a stop signal saves a checkpoint and ends the run with exit 130."""
    trainer, output_dir, checkpoint = session.trainer, session.run.root, session.checkpoint
    if checkpoint is not None:
        state = TrainerState.load_from_json(str(checkpoint / TRAINER_STATE_NAME))
        if state.global_step >= state.max_steps:
            return trained_to_the_end(session, state)
    trainer.add_callback(stopper := GracefulStop())
    try:
        with stop_on_signals(stopper, session.console):
            try:
                output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
            except BaseException:
                trainer.callback_handler.on_train_end(trainer.args, trainer.state, trainer.control)  # the progress bar stops before the error line
                raise
    except KeyboardInterrupt:
        raise TrainingInterrupted(
            f"stopped at once by a second signal; continue from the last complete checkpoint with: s2sa train --resume {output_dir}"
        ) from None
    if stopper.stopped or stopper.signal is not None:  # (a signal after the last step end stops here too)
        raise TrainingInterrupted(
            f"{stopper.signal_name} at step {trainer.state.global_step}: checkpoint saved in "
            f"{last_complete_checkpoint(output_dir)}; continue with: s2sa train --resume {output_dir}"
        )
    return output


def trained_to_the_end(session: Session, state: TrainerState) -> TrainOutput:
    """Resuming from the checkpoint of the last step (the run stopped while writing its final adapter or
    report): load its weights, as the Trainer would train one step past the end."""
    load_trained_weights(session.summarizer, adapter_of(session.checkpoint), session.trainer.artifact_info)
    book = LossBook.saved(state)
    return TrainOutput(state.global_step, book.train_loss(state.global_step) if book else None, {})


def effective_batch_size(t: TrainArgs) -> int:
    """Examples per optimizer step over all processes: batch size x processes x accumulation."""
    return t.batch_size * t.grad_accum * world_size()


def session_samples_per_s(output: TrainOutput, first_step: int, effective_batch: int) -> float | None:
    """Training throughput of this session: the steps it trained times the effective batch, over its training
    time. (The Trainer divides the samples of every *planned* step of the run by it: a resumed run, or one
    stopped early by --max-time or --patience, looked several times faster.) None when it trained no step."""
    trained = output.global_step - first_step
    return trained * effective_batch / output.metrics["train_runtime"] if trained > 0 else None


def best_checkpoint_record(trainer: SummarizationTrainer) -> dict | None:
    """Which evaluated checkpoint became adapter/ (step, metric, value); None without evaluations."""
    state = trainer.state
    if state.best_global_step is None or not trainer.args.load_best_model_at_end:  # adapter/ is the last step's
        return None
    return {"step": state.best_global_step, "metric": trainer.args.metric_for_best_model, "value": state.best_metric}


def finalize(session: Session, output: TrainOutput) -> TrainResult:
    """Save the final adapter, write the validation report and run.json."""
    config, run, summarizer, data = session.config, session.run, session.summarizer, session.data
    output_dir = run.root
    session.trainer.nonfinite.check_weights(summarizer.model, output.global_step)
    if is_main_process():
        with naming_a_full_disk(run.adapter):
            save_artifact(run.adapter, summarizer, session.trainer.artifact_info)
    rouge = {}
    notes = write_run_curves(run) if is_main_process() else []
    if "validation" in data.splits:
        try:
            with naming_a_full_disk(output_dir):
                rouge = evaluate_split(
                    summarizer,
                    data.splits["validation"],
                    config.generation,
                    session.source_length,
                    output_dir,
                    "validation",
                    console=session.console,
                    notes=notes,
                )
        except KeyboardInterrupt:
            raise TrainingInterrupted(
                f"interrupted while writing the validation report; the trained adapter is in {run.adapter}; "
                f"s2sa train --resume {output_dir} writes the report"
            ) from None
    first_step = checkpoint_step(session.checkpoint) if session.checkpoint else 0
    samples_per_s = session_samples_per_s(output, first_step, effective_batch_size(config.train))
    if not is_main_process():
        return TrainResult(output_dir, samples_per_s, output.training_loss, rouge)
    with naming_a_full_disk(run.record):
        write_run_record(
            run.record,
            config,
            data,
            session.parameters,
            {
                "train_samples_per_s": samples_per_s,
                "train_loss": output.training_loss,
                "global_step": output.global_step,
                "wall_time_s": round(time.perf_counter() - session.start, 2),
                "rouge_validation": rouge,
                "world_size": world_size(),
                "effective_batch_size": effective_batch_size(config.train),
                "best_checkpoint": best_checkpoint_record(session.trainer),
                "time_budget": session.budget.record(session.trainer.state) if session.budget else None,
                "train_source_overflow": session.overflow.to_dict(),
            },
        )
    return TrainResult(output_dir, samples_per_s, output.training_loss, rouge)
