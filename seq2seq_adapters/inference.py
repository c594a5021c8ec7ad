"""Use a trained run or exported adapter: `s2sa eval` (score a split), `s2sa summarize`, `s2sa eval --compare`.

A *source* is a run folder (`runs/<name>-<time>`, its `adapter/` is loaded), a checkpoint folder, or an
exported adapter folder (`s2sa export-adapter`). The base encoder/decoder come from its `s2sa.json`
(overridable), the decoding settings too (each overridable), and, for a run, the data it was trained on
from its saved settings (`RunDir.read_config`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, TextIO

import torch
from datasets import DatasetDict
from rich.console import Console
from rich.markup import escape

from .artifacts import ArtifactInfo, load_artifact, read_info, resolve_artifact_dir
from .config import DataArgs, GenerationArgs, RunConfig
from .data import (
    ID_CANDIDATES,
    SPLIT_NAMES,
    TEXT_CANDIDATES,
    load_summarization_data,
    parse_jsonl_object,
)
from .errors import S2SAError
from .evaluation import evaluate_split
from .generation import generate_summaries
from .io_utils import atomic_write_text
from .modeling import Summarizer
from .progress import tracked
from .reports import TYPE_NAMES, compare_markdown, compare_table
from .run_dir import RunDir


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
    """Find the weights of a run / checkpoint / exported adapter folder and read their metadata (cheap)."""
    artifact_dir = resolve_artifact_dir(path).resolve()
    run, is_final = RunDir.of_artifact(artifact_dir)
    return Source(artifact_dir, run.root if run else None, read_info(artifact_dir), is_final)


def load_model(source: Source, encoder: str | None = None, decoder: str | None = None) -> Summarizer:
    """Build the base model, load the trained weights, and move it to the GPU when there is one."""
    summarizer, _ = load_artifact(source.artifact_dir, encoder=encoder, decoder=decoder)
    if torch.cuda.is_available():
        summarizer.model.to("cuda")
    return summarizer


def load_source(path: str | Path, encoder: str | None = None, decoder: str | None = None) -> tuple[Source, Summarizer]:
    """`locate` + `load_model`."""
    source = locate(path)
    return source, load_model(source, encoder, decoder)


def generation_settings(info: ArtifactInfo, overrides: dict[str, Any] | None = None) -> GenerationArgs:
    """The decoding settings stored with the weights, with the given (non-None) values replacing them."""
    unknown = set(overrides or {}) - {f.name for f in fields(GenerationArgs)}
    if unknown:
        raise ValueError(f"not generation settings: {sorted(unknown)}")
    gen = replace(info.generation, **{k: v for k, v in (overrides or {}).items() if v is not None})
    problems = gen.problems(lambda name: f"--{name.replace('_', '-')}")
    if problems:
        raise S2SAError("; ".join(problems))
    return gen


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from a file, or None when the file is missing or not an object."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def run_config(source: Source) -> RunConfig | None:
    """The run's resolved settings, or None for an exported adapter."""
    return source.run.read_config() if source.run else None


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
    return args, config.train.seed if config is not None else 42


def _exported_data(artifact_dir: Path) -> DataArgs | None:
    """Data settings an exported folder may record in s2sa.json (`data`: a path or a DataArgs mapping)."""
    recorded = (read_json(artifact_dir / "s2sa.json") or {}).get("data")
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
    if directory.exists() and not directory.is_dir():
        raise S2SAError(f"--output-dir {directory} is a file")
    report = directory / f"rouge_{split}.json"
    predictions = directory / f"predictions_{split}.jsonl"
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
) -> EvalOutcome:
    """Load weights, summarise one split of their data (or `data`), score it and write predictions + reports."""
    console = console or Console(stderr=True)
    split = SPLIT_NAMES.get(split, split)
    if max_samples is not None and max_samples < 1:
        raise S2SAError(f"--max-samples must be at least 1, got {max_samples}")
    source = locate(path)
    gen = generation_settings(source.info, generation)
    data_args, seed = eval_data_args(source, data, text_column, summary_column)
    directory = Path(output_dir) if output_dir is not None else default_output_dir(source, split)
    check_eval_output(directory, source, split, overwrite)
    single_file = data is not None and Path(data).expanduser().is_file()
    loaded = load_summarization_data(data_args, seed=seed, carve_validation=not single_file)
    if single_file:  # one file is one split: every row is scored, under the name --split gives
        loaded.splits = DatasetDict({split: loaded.splits["train"]})
    if split not in loaded.splits:
        raise S2SAError(f"no {split} split in {loaded.source}; it has {', '.join(loaded.splits)} (choose one with --split)")
    examples = loaded.splits[split]
    if max_samples is not None:
        examples = examples.select(range(min(max_samples, len(examples))))
    summarizer = load_model(source, encoder, decoder)
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
        "data": {"source": loaded.source, "fingerprint": examples._fingerprint, "split": split, "examples": len(examples)},
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
    return EvalOutcome(directory, split, scores, notes)


# --- summarize -------------------------------------------------------------------------------------


@dataclass
class Document:
    """A document to summarise, with an id and where it came from."""

    id: str
    text: str
    origin: str


def _cell_text(value: Any) -> str | None:
    """A string, or a list of strings joined by newlines (like data.py); None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "\n".join(value)
    return None


def jsonl_documents(lines: Iterable[str], origin: str, text_column: str | None = None) -> list[Document]:
    """Documents from JSON lines: the `text_column` (or the first of data.py's text candidates) of each object.

    The id is the row's own id field (data.py's id candidates) or "" (read_documents then numbers it).
    """
    documents = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{origin} line {number}"
        row = parse_jsonl_object(line, where)
        column = text_column or next((c for c in TEXT_CANDIDATES if c in row), None)
        if column is None or column not in row:
            looked = f"'{text_column}'" if text_column else ", ".join(TEXT_CANDIDATES)
            raise S2SAError(f"{where}: no text column ({looked}); columns there: {', '.join(row)}; pass --text-column")
        text = _cell_text(row[column])
        if text is None:
            raise S2SAError(f"{where}: column '{column}' is not text")
        row_id = next((row[c] for c in ID_CANDIDATES if c in row and row[c] is not None), None)
        documents.append(Document("" if row_id is None else str(row_id), text, where))
    return documents


def read_documents(
    files: Sequence[str | Path], stdin: TextIO | None = None, *, jsonl: bool = False, text_column: str | None = None
) -> list[Document]:
    """Documents from files (a .jsonl file: one per line; any other file: the whole file) or from stdin.

    Without files, all of stdin is one document, or one per line with `jsonl`. `-` names stdin among files.
    """
    stdin = stdin if stdin is not None else sys.stdin
    documents: list[Document] = []
    for name in files or ["-"]:
        if str(name) == "-":
            text, origin, as_jsonl = stdin.read(), "<stdin>", jsonl
        else:
            path = Path(name)
            if not path.is_file():
                raise S2SAError(f"input file not found: {path}")
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise S2SAError(f"{path} is not UTF-8 text") from None
            origin, as_jsonl = str(path), jsonl or path.suffix == ".jsonl"
        if as_jsonl:
            documents += jsonl_documents(text.splitlines(), origin, text_column)
        else:
            documents.append(Document("", text, origin))
    for index, document in enumerate(documents):
        document.id = document.id or str(index)
        if not document.text.strip():
            raise S2SAError(f"{document.origin}: the document is empty")
    return documents


def summarize_documents(
    path: str | Path,
    documents: Sequence[Document],
    *,
    encoder: str | None = None,
    decoder: str | None = None,
    generation: dict[str, Any] | None = None,
    console: Console | None = None,
) -> list[str]:
    """Summaries of `documents`, in their order, with the weights' stored decoding settings (or overrides)."""
    console = console or Console(stderr=True)
    if not documents:
        raise S2SAError("no documents to summarise")
    source = locate(path)
    gen = generation_settings(source.info, generation)
    summarizer = load_model(source, encoder, decoder)
    texts = [document.text for document in documents]
    with tracked(console, "summarizing", len(texts)) as advance:
        return generate_summaries(
            summarizer.model, summarizer.tokenizer, texts, gen, source.info.max_source_length, on_batch=advance
        )


def write_summaries(documents: Sequence[Document], summaries: Sequence[str], output: str | Path | None, stdout: TextIO | None = None) -> None:
    """One summary per line on stdout, or JSON lines ({id, source, summary}) into `output`."""
    if output is None:
        stream = stdout if stdout is not None else sys.stdout
        for summary in summaries:
            stream.write(" ".join(summary.split()) + "\n")
        stream.flush()
        return
    records = [
        json.dumps({"id": d.id, "source": d.origin, "summary": s}, ensure_ascii=False) for d, s in zip(documents, summaries)
    ]
    atomic_write_text(Path(output), "\n".join(records) + "\n")


# --- compare ---------------------------------------------------------------------------------------


def find_report(target: str | Path, split: str) -> Path:
    """A rouge_<split>.json: the file itself, or in a folder: `eval-<split>/` first, then the folder itself."""
    target = Path(target)
    if target.is_file():
        return target
    if target.is_dir():
        run = RunDir(target)
        for candidate in (RunDir(run.eval_dir(split)).report(split), run.report(split)):
            if candidate.is_file():
                return candidate
        raise S2SAError(
            f"no rouge_{split}.json in {target} or {run.eval_dir(split)}; run `s2sa eval {target} --split {split}` first"
        )
    raise S2SAError(f"not found: {target} (expected a rouge_<split>.json report, a run folder or an eval folder)")


def _label(report_path: Path, report: dict) -> str:
    """The run name recorded in the report, else the folder name (the run's, for `<run>/eval-<split>`)."""
    name = (report.get("run") or {}).get("name") if isinstance(report.get("run"), dict) else None
    if name:
        return str(name)
    folder = report_path.parent
    return folder.parent.name if folder.name.startswith("eval-") else folder.name


def load_reports(targets: Sequence[str | Path], split: str) -> dict[str, dict]:
    """Reports by unique label, in the given order."""
    split = SPLIT_NAMES.get(split, split)
    if len(targets) < 2:
        raise S2SAError("--compare needs at least two runs or reports")
    reports: dict[str, dict] = {}
    for target in targets:
        path = find_report(target, split)
        report = read_json(path)
        if report is None or "systems" not in report:
            raise S2SAError(f"{path} is not a rouge report written by s2sa")
        label = base = _label(path, report)
        number = 2
        while label in reports:
            label, number = f"{base} ({number})", number + 1
        reports[label] = report
    return reports


def different_examples_warning(reports: dict[str, dict]) -> str | None:
    """A warning when the reports were computed on different examples (data, split or number)."""
    seen = set()
    for report in reports.values():
        data = report.get("data") if isinstance(report.get("data"), dict) else {}
        n = next(iter(report["systems"].values()), {}).get("n_examples")
        seen.add((data.get("fingerprint"), report.get("split"), n))
    if len(seen) > 1:
        return "the reports are not on the same examples (data, split or number of examples differ): compare with care"
    return None


def compare_runs(targets: Sequence[str | Path], split: str, markdown: str | Path | None = None, console: Console | None = None) -> dict[str, dict]:
    """Print one table of several runs' reports for `split`; write it as Markdown to `markdown` if given."""
    console = console or Console()
    reports = load_reports(targets, split)
    console.print(compare_table(reports))
    warning = different_examples_warning(reports)
    if warning:
        console.print(f"[yellow]warning:[/] {warning}")
    if markdown is not None:
        text = compare_markdown(reports)
        if warning:
            text += f"\nWarning: {warning}.\n"
        atomic_write_text(Path(markdown), text)
    return reports
