"""`s2sa eval`: summarise one split of a run's data (or other data) with its weights, score it, write reports."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from seq2seq_adapters.config.fields import flag_name
from seq2seq_adapters.config.schema import DataArgs
from seq2seq_adapters.core.distributed import is_main_process
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import check_output_dir, mark_as_written, output_path, read_json, writing_folder
from seq2seq_adapters.data.sources import SPLIT_NAMES, check_local_data, missing_split
from seq2seq_adapters.evaluation.reports import TYPE_NAMES
from seq2seq_adapters.generation.loading import (
    Source,
    check_base_code,
    generation_settings,
    load_model,
    locate,
    reading,
    run_config,
)
from seq2seq_adapters.layout.artifact_folder import METADATA
from seq2seq_adapters.layout.run_folder import RunDir
from seq2seq_adapters.layout.split_report import SplitReport

SPLIT_HINT = "choose one with --split"


def eval_data_args(
    source: Source,
    data: str | None,
    text_column: str | None = None,
    summary_column: str | None = None,
) -> tuple[DataArgs, int]:
    """DataArgs and seed for eval: the run's own data settings, or `data` with the run's carving settings.

    Without `data` the run's settings are reused as they are (columns, validation carving, seed), so
    `--split validation` meets the examples the run was validated on. No size limits: see `evaluate_run`.
    """
    config = run_config(source)
    if data is None:
        recorded = _exported_data(source.artifact_dir) if config is None else config.data
        if recorded is None:
            raise S2SAError(
                f"{source.artifact_dir} is an exported adapter that does not record its training data; pass --data"
            )
        args = DataArgs(**vars(recorded))
        recorded_path = Path(args.data).expanduser() if args.data else None
        if recorded_path and not recorded_path.exists() and (recorded_path.suffix or args.data.startswith((".", "/", "~"))):
            raise S2SAError(f"the run's data {args.data} is not found from here (relative paths are as given at training); pass --data")
        if text_column or summary_column:
            args.text_column, args.summary_column = text_column or args.text_column, summary_column or args.summary_column
    else:
        base = vars(config.data) if config is not None else {}
        args = DataArgs(
            data=data,
            text_column=text_column,
            summary_column=summary_column,
            validation_ratio=base.get("validation_ratio", DataArgs.validation_ratio),
            on_bad_rows=base.get("on_bad_rows", DataArgs.on_bad_rows),
        )
    args.max_train_samples = args.max_eval_samples = None
    if problems := args.problems(flag_name):  # the flags given here meet the settings' rules
        raise S2SAError("; ".join(problems))
    return args, config.train.seed if config is not None else 42


def _exported_data(artifact_dir: Path) -> DataArgs | None:
    """Data settings an exported folder may record in s2sa.json (`data`: a path or a DataArgs mapping)."""
    recorded = (read_json(artifact_dir / METADATA) or {}).get("data")
    if isinstance(recorded, str):
        return DataArgs(data=recorded)
    if isinstance(recorded, dict):
        known = {f.name for f in fields(DataArgs)}
        return DataArgs(**{k: v for k, v in recorded.items() if k in known})
    return None


def validation_note(source: Source) -> tuple[str | None, dict | None]:
    """A report note with the validation ROUGE the run recorded at the end of training (run.json)."""
    if not (source.is_final and source.run):
        return None, None
    record = read_json(source.run.record) or {}
    scores = record.get("rouge_validation")
    if not isinstance(scores, dict) or not scores:
        return None, None
    size = ((record.get("data") or {}).get("sizes") or {}).get("validation")
    cells = ", ".join(f"{TYPE_NAMES.get(k, k)} {v:.2f}" for k, v in scores.items())
    examples = f"{size} validation examples" if size else "the validation split"
    note = f"Validation F1 x100 at the end of training (run.json rouge_validation; {examples}, the run's stored decoding settings): {cells}."
    return note, scores


def default_output_dir(source: Source, split: str) -> Path:
    """`<run>/eval-<split>` (or `<adapter folder>/eval-<split>`)."""
    return RunDir(source.home).eval_dir(split)  # an exported adapter folder gets the same layout


def check_eval_output(directory: Path, source: Source, split: str, overwrite: bool) -> None:
    """Refuse to replace another run's (or a training run's own) report for this split without --overwrite."""
    final = {"the run's adapter/": source.run.adapter} if source.run else {}  # training's resume replaces it
    check_output_dir(directory, overwrite, flag="--output-dir", replaced=False, outside=final)  # reports: one by one, below
    files = SplitReport(directory, split)
    report, predictions = files.rouge_json, files.predictions
    if overwrite or not (report.exists() or predictions.exists()):
        return
    owner = ((read_json(report) or {}).get("run") or {}).get("path")
    if owner == str(source.artifact_dir):
        return  # an earlier eval of the same weights: replaced
    what = f"the eval of {owner}" if owner else "a report not written by `s2sa eval` for these weights"
    raise S2SAError(
        f"{directory} already holds {report.name if report.exists() else predictions.name} from {what}; "
        "pass --overwrite to replace it or choose another --output-dir"
    )


@dataclass
class EvalOutcome:
    """Where `evaluate_run` wrote its files, and the headline F1 scores (x100)."""

    output_dir: Path
    split: str
    scores: dict[str, float]
    notes: list[str]


def evaluate_run(
    path: str | Path,
    *,
    split: str = "test",
    data: str | None = None,
    text_column: str | None = None,
    summary_column: str | None = None,
    max_samples: int | None = None,
    output_dir: str | Path | None = None,
    overwrite: bool = False,
    encoder: str | None = None,
    decoder: str | None = None,
    generation: dict[str, Any] | None = None,
    console: Console | None = None,
    trust_remote_code: bool = False,
) -> EvalOutcome:
    """Load weights, summarise one split of their data (or `data`), score it and write predictions + reports.

    `trust_remote_code`: the caller's permission for base checkpoints' own code (model/remote_code.py)."""
    console = console or Console(stderr=True)
    if not split.strip():
        raise S2SAError("--split must not be empty; expected train, validation or test")
    split = SPLIT_NAMES.get(split, split)
    if max_samples is not None and max_samples < 1:
        raise S2SAError(f"--max-samples must be at least 1, got {max_samples}")
    source = locate(path)
    check_base_code(source, encoder, decoder, trust_remote_code=trust_remote_code)
    gen = generation_settings(source.info.generation, generation)
    data_args, seed = eval_data_args(source, data, text_column, summary_column)
    directory = Path(output_dir) if output_dir is not None else default_output_dir(source, split)
    check_eval_output(directory, source, split, overwrite)
    check_local_data(data_args.data, split, SPLIT_HINT)
    created = not directory.exists()
    # a second eval writing the folder is refused; under torchrun rank 0 alone writes (and holds) it
    held = writing_folder(directory, "--output-dir") if is_main_process() else contextlib.nullcontext(output_path(directory))
    with reading(source), held as directory:
        from datasets import DatasetDict  # heavy (datasets, torch): only after the cheap checks above

        from seq2seq_adapters.data.dataset import content_fingerprint, load_summarization_data
        from seq2seq_adapters.evaluation.split_scoring import evaluate_split

        single_file = data is not None and Path(data).expanduser().is_file()
        loaded = load_summarization_data(data_args, seed=seed, carve_validation=not single_file)
        if single_file:  # one file is one split: every row is scored, under the name --split gives
            loaded.splits = DatasetDict({split: loaded.splits["train"]})
        if split not in loaded.splits:
            raise S2SAError(missing_split(split, loaded.source, loaded.splits, SPLIT_HINT))
        examples = loaded.splits[split]
        if max_samples is not None:
            examples = examples.select(range(min(max_samples, len(examples))))
        summarizer = load_model(source, encoder, decoder, trust_remote_code=trust_remote_code)
        console.print(f"data: {escape(loaded.source)} · {split}: {len(examples)} examples · text column {escape(loaded.text_column)}")
        note, validation = validation_note(source)
        notes = [note] if note else []
        extra = {
            "run": {
                "path": str(source.artifact_dir),
                "name": source.name,
                "encoder": source.info.model_args.encoder if encoder is None else encoder,
                "decoder": source.info.model_args.decoder if decoder is None else decoder,
                "adapter_config": None if source.info.model_args.full_finetune else source.info.model_args.adapter_config,
            },
            "data": {"source": loaded.source, "fingerprint": content_fingerprint(examples), "split": split, "examples": len(examples)},
            "max_source_length": source.info.max_source_length,
            "rouge_validation_at_training": validation,
        }
        scores = evaluate_split(
            summarizer,
            examples,
            gen,
            source.info.max_source_length,
            directory,
            split,
            console=console,
            extra=extra,
            notes=notes,
        )
        for line in notes:
            console.print(escape(line))
        if created:
            mark_as_written(directory)
        return EvalOutcome(directory, split, scores, notes)
