"""The `s2sa` command line: parse flags, call one library function, print results or one-line errors."""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from .config import DataArgs, GenerationArgs, ModelArgs, TrainArgs, load_config, parse_leave_out
from .errors import S2SAError

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
    """Turn S2SAError into one red line on stderr and exit code 1."""
    try:
        yield
    except S2SAError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


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
    encoder: Annotated[Optional[str], Opt(help="Encoder checkpoint: local folder or hub id [default: bundled MiniLM].")] = None,
    decoder: Annotated[Optional[str], Opt(help="Decoder checkpoint: local folder or hub id [default: bundled MiniLM].")] = None,
    tie_encoder_decoder: Annotated[Optional[bool], Opt("--tie-encoder-decoder/--no-tie-encoder-decoder", help="Share encoder and decoder weights (BERTShare).")] = None,
    adapter_config: Annotated[Optional[str], Opt(help="adapters config string, e.g. seq_bn, lora[r=8,alpha=16].")] = None,
    adapter_name: Annotated[Optional[str], Opt(help="Name of the adapter.")] = None,
    leave_out: Annotated[Optional[str], Opt(help="Layer ids without adapters, counted in encoder and decoder from 0, e.g. 0,1.")] = None,
    freeze_new_weights: Annotated[Optional[bool], Opt("--freeze-new-weights/--train-new-weights", help="Freeze newly initialized weights (cross-attention, LM-head parts).")] = None,
    full_finetune: Annotated[Optional[bool], Opt("--full-finetune/--adapter", help="Train every weight, no adapter (the baseline).")] = None,
    trust_remote_code: Annotated[Optional[bool], Opt("--trust-remote-code", help="Allow custom code from checkpoints.")] = None,
    data: Annotated[Optional[str], Opt(help="Data file, folder of split files, or hub dataset id [default: bundled ACLSum].")] = None,
    text_column: Annotated[Optional[str], Opt(help="Column with the documents [default: detected].")] = None,
    summary_column: Annotated[Optional[str], Opt(help="Column with the summaries [default: detected].")] = None,
    validation_ratio: Annotated[Optional[float], Opt(help="Share of train carved out as validation when there is none.")] = None,
    max_train_samples: Annotated[Optional[int], Opt(help="Use only the first N training examples.")] = None,
    max_eval_samples: Annotated[Optional[int], Opt(help="Use only the first N validation/test examples.")] = None,
    max_source_length: Annotated[Optional[int], Opt(help="Source tokens kept [default: min(512, encoder limit)].")] = None,
    max_target_length: Annotated[Optional[int], Opt(help="Summary tokens kept for training.")] = None,
    on_bad_rows: Annotated[Optional[str], Opt(help="skip or fail on empty / non-text cells.")] = None,
    learning_rate: Annotated[Optional[float], Opt(help="Peak learning rate.")] = None,
    epochs: Annotated[Optional[float], Opt(help="Training epochs.")] = None,
    max_steps: Annotated[Optional[int], Opt(help="Optimizer steps; overrides --epochs when > 0.")] = None,
    batch_size: Annotated[Optional[int], Opt(help="Training batch size per device.")] = None,
    grad_accum: Annotated[Optional[int], Opt(help="Gradient accumulation steps.")] = None,
    warmup_ratio: Annotated[Optional[float], Opt(help="Share of steps with linear warm-up.")] = None,
    weight_decay: Annotated[Optional[float], Opt(help="AdamW weight decay.")] = None,
    seed: Annotated[Optional[int], Opt(help="Random seed (data order, carving, initialization).")] = None,
    eval_steps: Annotated[Optional[int], Opt(help="Validation loss every N steps (keeps the best checkpoint).")] = None,
    save_steps: Annotated[Optional[int], Opt(help="Checkpoint every N steps [default: each epoch].")] = None,
    save_total_limit: Annotated[Optional[int], Opt(help="Checkpoints kept.")] = None,
    logging_steps: Annotated[Optional[int], Opt(help="Log loss every N steps.")] = None,
    output_dir: Annotated[Optional[str], Opt(help="Run folder [default: runs/<adapter-name>-<timestamp>].")] = None,
    num_beams: Annotated[Optional[int], Opt(help="Beams for the final validation summaries.")] = None,
    max_new_tokens: Annotated[Optional[int], Opt(help="Longest generated summary, in tokens.")] = None,
    overwrite: Annotated[bool, Opt("--overwrite", help="Replace a non-empty --output-dir.")] = False,
    resume: Annotated[Optional[Path], Opt(help="Continue the run in this folder from its last checkpoint.")] = None,
) -> None:
    """Train an adapter (plus newly initialized weights) and write checkpoints and a ROUGE report."""
    from .training import train as run_training

    flags = dict(locals())
    with user_errors():
        flags["leave_out"] = parse_leave_out(leave_out) if leave_out is not None else None
        if resume is not None:
            config_file = resume / "config.json"
            if not config_file.is_file():
                raise S2SAError(f"--resume {resume}: not a run folder (no config.json)")
            run_config = load_config(config_file, group_overrides({"output_dir": str(resume)}, "train"))
        else:
            run_config = load_config(config, group_overrides(flags, prefer="train"))
        result = run_training(run_config, overwrite=overwrite, resume=resume, console=console)
    console.print(f"[green]done:[/] run written to [bold]{result.output_dir}[/]")

