"""The `s2sa` command line: parse flags, call one library function, print results or one-line errors."""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from .config import DataArgs, GenerationArgs, ModelArgs, TrainArgs, load_config, parse_leave_out
from .errors import S2SAError
from .trainable import policy_from_flags
from .io_utils import check_output_dir

app = typer.Typer(
    help="Fine-tune adapters on BERT2BERT encoder-decoder summarizers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True)
warnings.filterwarnings("ignore", message=r".*(Version v4.12.0 introduces|To copy construct from a tensor).*")

SECTIONS = {"model": ModelArgs, "data": DataArgs, "train": TrainArgs, "generation": GenerationArgs}


@contextlib.contextmanager
def user_errors():
    """Turn S2SAError into one red line on stderr and exit code 1 (130 for an interrupted run)."""
    try:
        yield
    except S2SAError as exc:
        label = getattr(exc, "label", "error")
        console.print(f"[bold red]{label}:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(getattr(exc, "exit_code", 1)) from None
    except KeyboardInterrupt:
        console.print("[bold red]interrupted[/]", highlight=False)
        raise typer.Exit(130) from None


def group_overrides(flags: dict[str, object], prefer: str) -> dict[str, dict[str, object]]:
    """Sort flat flag values into config sections by field name; `prefer` wins for names in two sections."""
    grouped: dict[str, dict[str, object]] = {}
    for name, value in flags.items():
        owners = [s for s, cls in SECTIONS.items() if name in {f.name for f in dataclasses.fields(cls)}]
        if not owners:
            continue
        section = prefer if prefer in owners else owners[0]
        grouped.setdefault(section, {})[name] = value
    return grouped


Opt = typer.Option


@app.callback()
def main() -> None:
    """Fine-tune adapters on BERT2BERT encoder-decoder summarizers: train, eval, summarize, export."""


@app.command()
def train(
    config: Annotated[Optional[Path], Opt(help="YAML run config (see configs/); flags override it.")] = None,
    encoder: Annotated[Optional[str], Opt(help="Encoder checkpoint: local folder or hub id (default: bundled MiniLM).")] = None,
    decoder: Annotated[Optional[str], Opt(help="Decoder checkpoint: local folder or hub id (default: bundled MiniLM).")] = None,
    tie_encoder_decoder: Annotated[Optional[bool], Opt("--tie-encoder-decoder/--no-tie-encoder-decoder", help="Share encoder and decoder weights (BERTShare).")] = None,
    adapter_config: Annotated[Optional[str], Opt(help="adapters config string, e.g. seq_bn, lora[r=8,alpha=16].")] = None,
    adapter_name: Annotated[Optional[str], Opt(help="Name of the adapter.")] = None,
    leave_out: Annotated[Optional[str], Opt(help="Layer ids without adapters, counted in encoder and decoder from 0, e.g. 0,1; '' for none (default: 0,1 where both stacks have 6+ layers).")] = None,
    train: Annotated[Optional[str], Opt("--train", help="Weights that train: adapter, head (LM-head transform), cross-attention, new (= head,cross-attention), or all (full fine-tuning), comma-separated.", show_default=False)] = None,
    freeze_new_weights: Annotated[Optional[bool], Opt("--freeze-new-weights/--train-new-weights", help="Alias of --train adapter (/ --train adapter,new).", show_default=False)] = None,
    full_finetune: Annotated[Optional[bool], Opt("--full-finetune", help="Alias of --train all: every weight, no adapter (the baseline).", show_default=False)] = None,
    trust_remote_code: Annotated[Optional[bool], Opt("--trust-remote-code", help="Allow custom code from checkpoints.")] = None,
    cross_attention_init: Annotated[Optional[str], Opt(help="self (default): start each cross-attention as a copy of its layer's pretrained self-attention; random: BERT's init.")] = None,
    attention_dropout: Annotated[Optional[float], Opt(help="Attention-probability dropout in training (0: fused attention, fast; BERT ships 0.1).")] = None,
    data: Annotated[Optional[str], Opt(help="Data file, folder of split files, or hub dataset id (default: bundled ACLSum).")] = None,
    text_column: Annotated[Optional[str], Opt(help="Column with the documents (default: detected).")] = None,
    summary_column: Annotated[Optional[str], Opt(help="Column with the summaries (default: detected).")] = None,
    validation_ratio: Annotated[Optional[float], Opt(help="Share of train carved out as validation when there is none.")] = None,
    max_train_samples: Annotated[Optional[int], Opt(help="Use only the first N training examples.")] = None,
    max_eval_samples: Annotated[Optional[int], Opt(help="Use only the first N validation/test examples.")] = None,
    max_source_length: Annotated[Optional[int], Opt(help="Source tokens kept (default: min(512, encoder limit)).")] = None,
    max_target_length: Annotated[Optional[int], Opt(help="Summary tokens kept for training.")] = None,
    on_bad_rows: Annotated[Optional[str], Opt(help="skip or fail on empty / non-text cells.")] = None,
    learning_rate: Annotated[Optional[float], Opt(help="Peak learning rate (default: 5e-3 adapter-only, 2e-3 when cross-attention trains, 1e-4 for --train all).", show_default=False)] = None,
    epochs: Annotated[Optional[float], Opt(help="Training epochs.")] = None,
    max_steps: Annotated[Optional[int], Opt(help="Optimizer steps; overrides --epochs when > 0.")] = None,
    batch_size: Annotated[Optional[int], Opt(help="Training batch size per device.")] = None,
    grad_accum: Annotated[Optional[int], Opt(help="Gradient accumulation steps.")] = None,
    warmup_ratio: Annotated[Optional[float], Opt(help="Share of steps with linear warm-up.")] = None,
    weight_decay: Annotated[Optional[float], Opt(help="AdamW weight decay.")] = None,
    seed: Annotated[Optional[int], Opt(help="Random seed (data order, carving, initialization).")] = None,
    eval_steps: Annotated[Optional[int], Opt(help="Validation loss every N steps (keeps the best checkpoint).")] = None,
    save_steps: Annotated[Optional[int], Opt(help="Checkpoint every N steps (default: each epoch).")] = None,
    save_total_limit: Annotated[Optional[int], Opt(help="Checkpoints kept.")] = None,
    logging_steps: Annotated[Optional[int], Opt(help="Log loss every N steps.")] = None,
    output_dir: Annotated[Optional[str], Opt(help="Run folder (default: runs/<adapter-name>-<timestamp>).")] = None,
    group_by_length: Annotated[Optional[bool], Opt("--group-by-length/--no-group-by-length", help="Batch similar lengths together (less padding).")] = None,
    bf16: Annotated[Optional[bool], Opt("--bf16", help="bf16 mixed precision (GPU, or CPUs with bf16 support).")] = None,
    fp16: Annotated[Optional[bool], Opt("--fp16", help="fp16 mixed precision (GPU).")] = None,
    num_beams: Annotated[Optional[int], Opt(help="Beams for the final validation summaries.")] = None,
    max_new_tokens: Annotated[Optional[int], Opt(help="Longest generated summary, in tokens.")] = None,
    overwrite: Annotated[bool, Opt("--overwrite", help="Replace a non-empty --output-dir.")] = False,
    resume: Annotated[Optional[Path], Opt(help="Continue the run in this folder from its last checkpoint.")] = None,
) -> None:
    """Train an adapter (plus newly initialized weights) and write checkpoints and a ROUGE report."""
    flags = dict(locals())
    with user_errors():
        flags["leave_out"] = parse_leave_out(leave_out) if leave_out is not None else None
        flags["train"] = policy_from_flags(train, flags.pop("full_finetune"), flags.pop("freeze_new_weights"))
        if resume is not None:
            config_file = resume / "config.json"
            if not resume.is_dir():
                raise S2SAError(f"--resume {resume}: no such folder")
            if not config_file.is_file():
                raise S2SAError(f"--resume {resume}: not a run folder (no config.json)")
            given = [name for name, value in flags.items() if name not in ("resume", "overwrite") and value is not None]
            extra = [f"--{name.replace('_', '-')}" for name in given] + (["--overwrite"] if overwrite else [])
            if extra:
                raise S2SAError(
                    f"--resume continues with the settings saved in {config_file}; drop {', '.join(extra)}"
                )
            run_config = load_config(config_file, group_overrides({"output_dir": str(resume)}, "train"))
        else:
            run_config = load_config(config, group_overrides(flags, prefer="train"))
            if run_config.train.output_dir:
                check_output_dir(Path(run_config.train.output_dir), overwrite, run_config)
        from .training import train as run_training  # heavy (torch, transformers): after the cheap checks

        result = run_training(run_config, overwrite=overwrite, resume=resume, console=console)
    console.print(f"[green]done:[/] run written to [bold]{result.output_dir}[/]")



@app.command("export-adapter")
def export_adapter(
    run_dir: Annotated[Path, typer.Argument(help="Run folder written by `s2sa train` (or an exported adapter folder).")],
    output: Annotated[Path, Opt(help="Folder to write the export into.")],
    checkpoint: Annotated[Optional[str], Opt(help="best, last or a step number (default: the run's final adapter/).")] = None,
    merge: Annotated[bool, Opt("--merge", help="Fold a LoRA-family adapter into the weights: a plain transformers model.")] = False,
    overwrite: Annotated[bool, Opt("--overwrite", help="Replace a non-empty --output.")] = False,
) -> None:
    """Export an adapter (adapters format, safetensors, tokenizer, model card), or merge it into a plain model."""
    from .export import export_adapter as run_export

    with user_errors():
        result = run_export(run_dir, output, checkpoint=checkpoint, merge=merge, overwrite=overwrite)
    console.print(f"[green]done:[/] exported to [bold]{result}[/]")


# Options shared by `eval` and `summarize`: every decoding setting defaults to the one stored with the run.
NumBeams = Annotated[Optional[int], Opt(help="Beams (default: the run's setting).", show_default=False)]
MaxNewTokens = Annotated[Optional[int], Opt(help="Longest summary, in tokens (default: the run's).", show_default=False)]
MinNewTokens = Annotated[Optional[int], Opt(help="Shortest summary, in tokens (default: the run's).", show_default=False)]
LengthPenalty = Annotated[Optional[float], Opt(help="Beam-search length penalty (default: the run's).", show_default=False)]
NoRepeatNgramSize = Annotated[Optional[int], Opt(help="Never repeat n-grams of this size (default: the run's).", show_default=False)]
GenBatchSize = Annotated[Optional[int], Opt(help="Documents generated per batch (default: the run's).", show_default=False)]
BaseEncoder = Annotated[Optional[str], Opt(help="Base encoder checkpoint (default: the one recorded with the weights).", show_default=False)]
BaseDecoder = Annotated[Optional[str], Opt(help="Base decoder checkpoint (default: the one recorded with the weights).", show_default=False)]
DECODING_FLAGS = ("num_beams", "max_new_tokens", "min_new_tokens", "length_penalty", "no_repeat_ngram_size", "batch_size")


def decoding_overrides(flags: dict[str, object]) -> dict[str, object]:
    """The decoding flags of `eval`/`summarize` (None: keep the run's setting)."""
    return {name: flags[name] for name in DECODING_FLAGS}


@app.command("eval")
def eval_command(
    targets: Annotated[list[Path], typer.Argument(help="Run folder, checkpoint or exported adapter folder; with --compare: several run/eval folders or rouge_<split>.json files.", show_default=False)],
    data: Annotated[Optional[str], Opt(help="Data file, folder of split files or hub id (default: the run's training data).", show_default=False)] = None,
    split: Annotated[str, Opt(help="Split to summarise and score (train, validation, test).")] = "test",
    max_samples: Annotated[Optional[int], Opt(help="Use only the first N examples of the split (default: all).", show_default=False)] = None,
    output_dir: Annotated[Optional[Path], Opt(help="Where to write predictions and reports (default: <run>/eval-<split>).", show_default=False)] = None,
    text_column: Annotated[Optional[str], Opt(help="Column with the documents (default: the run's, or detected).", show_default=False)] = None,
    summary_column: Annotated[Optional[str], Opt(help="Column(s) with the reference summaries (default: the run's, or detected).", show_default=False)] = None,
    overwrite: Annotated[bool, Opt("--overwrite", help="Replace reports in --output-dir written for other weights.")] = False,
    encoder: BaseEncoder = None,
    decoder: BaseDecoder = None,
    num_beams: NumBeams = None,
    max_new_tokens: MaxNewTokens = None,
    min_new_tokens: MinNewTokens = None,
    length_penalty: LengthPenalty = None,
    no_repeat_ngram_size: NoRepeatNgramSize = None,
    batch_size: GenBatchSize = None,
    compare: Annotated[bool, Opt("--compare", help="Compare the rouge_<split>.json reports of several runs in one table.")] = False,
    markdown: Annotated[Optional[Path], Opt(help="With --compare: also write the table as Markdown to this file.", show_default=False)] = None,
) -> None:
    """Summarise a split with trained weights; write predictions, ROUGE (with CI and Lead-k) and print a table."""
    flags = dict(locals())
    from .inference import compare_runs, evaluate_run

    generation = decoding_overrides(flags)
    with user_errors():
        if compare:
            ignored = [f"--{k.replace('_', '-')}" for k, v in flags.items() if k not in ("targets", "split", "markdown", "compare") and v not in (None, False)]
            if ignored:
                raise S2SAError(f"--compare reads existing reports; {', '.join(ignored)} do not apply")
            compare_runs(targets, split, markdown)
            return
        if len(targets) != 1 or markdown is not None:
            raise S2SAError("eval takes one run or adapter folder; several folders and --markdown go with --compare")
        result = evaluate_run(
            targets[0], split=split, data=data, text_column=text_column, summary_column=summary_column,
            max_samples=max_samples, output_dir=output_dir, overwrite=overwrite, encoder=encoder, decoder=decoder,
            generation=generation, console=console,
        )  # fmt: skip
    console.print(f"[green]done:[/] predictions and ROUGE report in [bold]{result.output_dir}[/]")


@app.command()
def summarize(
    source: Annotated[Path, typer.Argument(help="Run folder, checkpoint or exported adapter folder.", show_default=False)],
    files: Annotated[Optional[list[str]], typer.Argument(help="Text files (one document each) or .jsonl files (one per line); none or '-': stdin.", show_default=False)] = None,
    jsonl: Annotated[bool, Opt("--jsonl", help="Read stdin as JSON lines, one document per line (default: all of stdin is one document).")] = False,
    text_column: Annotated[Optional[str], Opt(help="Field of the JSON lines holding the text (default: detected).", show_default=False)] = None,
    output: Annotated[Optional[Path], Opt(help="Write JSON lines {id, source, summary} here instead of one summary per line on stdout.", show_default=False)] = None,
    encoder: BaseEncoder = None,
    decoder: BaseDecoder = None,
    num_beams: NumBeams = None,
    max_new_tokens: MaxNewTokens = None,
    min_new_tokens: MinNewTokens = None,
    length_penalty: LengthPenalty = None,
    no_repeat_ngram_size: NoRepeatNgramSize = None,
    batch_size: GenBatchSize = None,
) -> None:
    """Summarise documents from files or stdin with trained weights; summaries go to stdout (or --output)."""
    generation = decoding_overrides(dict(locals()))
    from .inference import read_documents, summarize_documents, write_summaries

    with user_errors():
        documents = read_documents(files or [], jsonl=jsonl, text_column=text_column)
        summaries = summarize_documents(source, documents, encoder=encoder, decoder=decoder, generation=generation, console=console)
        write_summaries(documents, summaries, output)
    if output is not None:
        console.print(f"[green]done:[/] {len(summaries)} summaries written to [bold]{output}[/]")
