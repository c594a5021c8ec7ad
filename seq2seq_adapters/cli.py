"""The `s2sa` command line: parse flags, call one library function, print results or one-line errors."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import itertools
import signal
import sys
import typing
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import typer
from rich.console import Console
from rich.markup import escape

from seq2seq_adapters.config.fields import allowed_types, flag_name, setting_flags
from seq2seq_adapters.config.loading import load_config, parse_overrides, shipped_configs
from seq2seq_adapters.config.policy import policy_from_flags
from seq2seq_adapters.config.schema import SECTIONS, GenerationArgs, setting_fields
from seq2seq_adapters.config.value_rules import report_to_problem
from seq2seq_adapters.core.allocator import reuse_freed_memory
from seq2seq_adapters.core.errors import S2SAError, S2SAWarning
from seq2seq_adapters.core.files import check_output_file, naming_a_full_disk, naming_a_refused_write
from seq2seq_adapters.layout.run_folder import RunDir
from seq2seq_adapters.training.resume_request import resume_request


class App(typer.Typer):
    """typer.Typer whose usage errors (a flag value of the wrong type, an unknown option, a missing argument)
    are one `error:` line, exit 2, like every other refusal, instead of click's boxed usage text."""

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        try:
            code = super().__call__(*args, **kwargs, standalone_mode=False)
        except typer.TyperException as exc:
            if type(exc).__name__ != "NoArgsIsHelpError":  # its help is printed already (typer tests the name too)
                console.print(f"[bold red]error:[/] {escape(usage_error_line(exc))}", highlight=False, soft_wrap=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def usage_error_line(exc: typer.TyperException) -> str:
    """click's message, the value it refused (typer's type checks leave it out) and where the usage is."""
    line = exc.format_message().replace("\n", " ").rstrip(".")
    errors = getattr(exc.__cause__, "errors", None)  # pydantic's ValidationError behind a refused value
    if callable(errors) and errors() and "input" in errors()[0]:
        line += f", got {errors()[0]['input']!r}"
    ctx = getattr(exc, "ctx", None)
    return line + (f"; see {ctx.command_path} --help" if ctx is not None else "")


app = App(
    help="Fine-tune adapters on BERT2BERT encoder-decoder summarizers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)
console = Console(stderr=True)


@contextlib.contextmanager
def warning_lines() -> Iterator[None]:
    """While a command runs: our own warnings as one yellow `warning:` line (no file and line), others as Python
    prints them, two known-harmless library warnings silenced. The process's warning settings are restored
    afterwards: importing the CLI, or using the library, changes none of them."""
    with warnings.catch_warnings():
        show_warning = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None) -> None:
            if issubclass(category, S2SAWarning):
                console.print(f"[yellow]warning:[/] {escape(str(message))}", highlight=False, soft_wrap=True)
            else:
                show_warning(message, category, filename, lineno, file, line)

        warnings.filterwarnings("ignore", message=r".*(Version v4.12.0 introduces|To copy construct from a tensor).*")
        warnings.showwarning = show
        yield


def interrupt(signum: int, frame: object) -> None:
    """SIGTERM as Ctrl+C: the command stops the same way (train installs its own graceful handler on top)."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def user_errors():
    """Turn S2SAError (and a full disk anywhere) into one red line on stderr and exit code 1 (130 for an
    interrupted run, SIGTERM included)."""
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        with naming_a_full_disk(), naming_a_refused_write():
            yield
    except S2SAError as exc:
        label = getattr(exc, "label", "error")
        console.print(f"[bold red]{label}:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(getattr(exc, "exit_code", 1)) from None
    except KeyboardInterrupt as exc:
        name = exc.args[0] if exc.args else "SIGINT"
        console.print(f"[bold red]interrupted:[/] {name}; reports, summaries and exports are written whole at the end, so none is half-written", highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


Opt = typer.Option


def path_text(text: str) -> Path:
    """A path flag or argument: typer reads '' as '.', which would write into (or read) the current folder."""
    if not str(text).strip():
        raise typer.BadParameter("must not be empty ('' would mean the current folder)")
    return Path(text)


def option_type(hint: Any) -> type:
    """The type a flag reads for a setting: its own for bool/int/float/str, text for lists and Literals."""
    allowed = [t for t in allowed_types(hint) if t is not type(None)]
    return allowed[0] if len(allowed) == 1 and allowed[0] in (bool, int, float) and typing.get_origin(hint) is not Literal else str


def setting_options(sections: dict[str, type], *, flags_of=setting_flags, help_suffix: str = "") -> list[inspect.Parameter]:
    """One optional keyword parameter per setting that has flags, typed and documented by its dataclass field.

    The parameter is named `<section>__<field>`; its default None means "not given" (keep the config's value)."""
    parameters = []
    for section, cls in sections.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            flags = flags_of(section, f)
            if not flags:
                continue
            option = Opt(*flags, help=escape(f.metadata["help"] + help_suffix), rich_help_panel=f"{section} settings", show_default=False)
            annotation = Annotated[Optional[option_type(hints[f.name])], option]  # noqa: UP045 (typer reads Optional)
            parameters.append(inspect.Parameter(f"{section}__{f.name}", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation))
    return parameters


def with_options(extra: list[inspect.Parameter]):
    """Add `extra` options to a command; their values reach it as one dict, `options` ({parameter name: value})."""

    def decorate(command):
        hints = typing.get_type_hints(command, include_extras=True)
        own = [
            parameter.replace(annotation=hints[parameter.name], kind=inspect.Parameter.KEYWORD_ONLY)
            for parameter in inspect.signature(command).parameters.values()
            if parameter.name != "options"
        ]

        @functools.wraps(command)
        def wrapper(**kwargs):
            options = {parameter.name: kwargs.pop(parameter.name) for parameter in extra}
            return command(**kwargs, options=options)

        wrapper.__signature__ = inspect.Signature([*extra, *own])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {parameter.name: parameter.annotation for parameter in [*extra, *own]}
        del wrapper.__wrapped__  # typer must read the signature above, not the command's
        return wrapper

    return decorate


def sectioned(options: dict[str, object]) -> dict[str, dict[str, object]]:
    """`{"train__max_steps": 3}` as `{"train": {"max_steps": 3}}`, each value read by its field's parser."""
    fields = {f"{section}__{f.name}": f for section, f in setting_fields()}
    grouped: dict[str, dict[str, object]] = {}
    for name, value in options.items():
        section, key = name.split("__")
        parse = fields[name].metadata.get("parse")
        grouped.setdefault(section, {})[key] = parse(value) if parse is not None and value is not None else value
    return grouped


TrustRemoteCode = Annotated[bool, Opt(
    "--trust-remote-code",
    help="Let the base checkpoints run their own Python code (auto_map, custom_generate/): for this command only; "
    "never saved with a run or an export, never read from a file.",
)]


@app.callback()
def main(ctx: typer.Context) -> None:
    """Fine-tune adapters on BERT2BERT encoder-decoder summarizers: train, eval, summarize, export."""
    reuse_freed_memory()  # every command's process: its steps reuse memory instead of page-faulting it in again
    ctx.with_resource(warning_lines())  # until the command ends


@app.command()
@with_options(setting_options(SECTIONS))
def train(
    settings: Annotated[Optional[list[str]], typer.Argument(help="Any setting as section.key=value (torchtune style), e.g. generation.num_beams=2 train.max_steps=300; read as YAML.", show_default=False)] = None,
    config: Annotated[Optional[str], Opt(help="YAML run config: a file or the name of a shipped one (s2sa configs); flags and section.key=value settings override it.")] = None,
    freeze_new_weights: Annotated[Optional[bool], Opt("--freeze-new-weights/--train-new-weights", help="Alias of --train adapter (/ --train adapter,new).", rich_help_panel="model settings", show_default=False)] = None,
    full_finetune: Annotated[Optional[bool], Opt("--full-finetune", help="Alias of --train all: every weight, no adapter (the baseline).", rich_help_panel="model settings", show_default=False)] = None,
    overwrite: Annotated[bool, Opt("--overwrite", help="Replace a non-empty --output-dir.")] = False,
    resume: Annotated[Optional[Path], Opt(parser=path_text, help="Continue the run in this folder from its last checkpoint.")] = None,
    trust_remote_code: TrustRemoteCode = False,
    options: dict[str, object] | None = None,
) -> None:
    """Train an adapter (and the weights --train names) and write checkpoints and a ROUGE report."""
    with user_errors():
        flags = sectioned(options or {})
        if resume is not None:
            given = [setting_flags(s, f)[0].split("/")[0] for s, f in setting_fields() if flags.get(s, {}).get(f.name) is not None]
            aliases = {"--full-finetune": full_finetune, "--freeze-new-weights": freeze_new_weights, "--config": config, "--overwrite": overwrite or None}
            given = [*given, *(flag for flag, value in aliases.items() if value is not None), *(settings or [])]
            request = resume_request(resume, given)
            if request.finished:  # exit 0: repeating --resume until a run is done is safe
                console.print(f"[green]done:[/] {escape(str(resume))} is already finished (run.json written); nothing to resume, nothing changed", highlight=False, soft_wrap=True)
                return
            run_config = request.config
        else:
            model_flags = flags.setdefault("model", {})
            model_flags["train"] = policy_from_flags(model_flags.get("train"), full_finetune, freeze_new_weights)
            run_config = load_config(config, flags, parse_overrides(settings or []))
            if run_config.train.output_dir:
                RunDir(Path(run_config.train.output_dir)).check_new(overwrite, run_config)
        if problem := report_to_problem(run_config.train.report_to):
            raise S2SAError(problem)
        from seq2seq_adapters.data.sources import check_local_data  # reads no model: before torch and the checkpoints

        check_local_data(run_config.data.data, "train", "training reads a train file: train.jsonl, .json, .csv or .parquet")
        from seq2seq_adapters.training.recipe import (
            train as run_training,  # heavy (torch, transformers): after the cheap checks
        )

        result = run_training(run_config, overwrite=overwrite, resume=resume, console=console, trust_remote_code=trust_remote_code)
    console.print(f"[green]done:[/] run written to [bold]{result.output_dir}[/]")


@app.command()
def tune(
    settings: Annotated[Optional[list[str]], typer.Argument(help="Settings every trial shares, as section.key=value (as for s2sa train), e.g. train.max_steps=300.", show_default=False)] = None,
    config: Annotated[Optional[str], Opt(help="YAML run config every trial starts from: a file or a shipped one's name (s2sa configs).", show_default=False)] = None,
    space: Annotated[Optional[Path], Opt(parser=path_text, help="YAML search space: section.key settings with choices or low/high(/log) (default: the shipped one: adapter configs, train policy, learning rate).", show_default=False)] = None,
    trials: Annotated[Optional[int], Opt(help="Stop after N trials (finished, pruned or failed), counted over all workers.", show_default=False)] = None,
    budget: Annotated[Optional[str], Opt(help="Total time, e.g. 2h: no trial starts that could not end in it; each trial gets train.max_time (default: a quarter of it).", show_default=False)] = None,
    output_dir: Annotated[Optional[Path], Opt(parser=path_text, help="Tune folder: trials/ (one run folder each), results.md/json, plots, the study's journal (default: runs/tune, or runs/tune-<study>). The same command continues it.", show_default=False)] = None,
    storage: Annotated[Optional[str], Opt(help="Optuna database URL shared by several workers (sqlite:///f.db, postgresql://user@host/db; default: a journal file in the tune folder).", show_default=False)] = None,
    study: Annotated[Optional[str], Opt(help="Study name in the storage (default: s2sa-tune).", show_default=False)] = None,
    sampler: Annotated[str, Opt(help="tpe (Optuna's default), random, or grid (every combination of the choices).")] = "tpe",
    pruner: Annotated[str, Opt(help="halving (successive halving on validation ROUGE at each evaluation), hyperband, or none.")] = "halving",
    seed: Annotated[int, Opt(help="Sampler seed.")] = 0,
    report: Annotated[Optional[str], Opt(help="Print the table of an existing tune (a tune folder, or a storage URL with --study) and exit.", show_default=False)] = None,
    trust_remote_code: TrustRemoteCode = False,
) -> None:
    """Search adapter configs and learning rates on Optuna: each trial an s2sa run, pruned on validation ROUGE."""
    with user_errors():
        from seq2seq_adapters.tuning.options import check_study_name, check_tune_options

        check_study_name(study, names_folder=report is None and output_dir is None)
        if report is None:  # before the trials' training code loads: a mistyped option costs a second, not seven
            check_tune_options(seed=seed, trials=trials, budget=budget, sampler=sampler, pruner=pruner)
        from seq2seq_adapters.tuning.report import trial_rows
        from seq2seq_adapters.tuning.space import load_space
        from seq2seq_adapters.tuning.tune import plan_tune, run_tune, study_of

        if report is not None:
            print_tune_results(trial_rows(study_of(report, study), Path(report) if Path(report).is_dir() else None))
            return
        run_config = load_config(config, None, parse_overrides(settings or []))
        folder = output_dir or Path("runs") / (f"tune-{study}" if study else "tune")
        plan = plan_tune(run_config, load_space(space, run_config), folder, study_name=study, storage=storage, trials=trials, budget=budget,
                         sampler=sampler, pruner=pruner, seed=seed)
        result = run_tune(plan, console=console, trust_remote_code=trust_remote_code)
    print_tune_results(result.rows)
    console.print(f"[green]done:[/] {result.trials} trials; results in [bold]{result.folder}[/]")


def print_tune_results(rows: list) -> None:
    """The trials' table on stdout; the best run and its export command on stderr."""
    from seq2seq_adapters.tuning.report import best_row, export_command, results_table

    Console().print(results_table(rows))
    if best := best_row(rows):
        console.print(f"best: trial {best.trial} in [bold]{escape(str(best.run_dir))}[/]; export it with: {escape(export_command(best))}", highlight=False)


@app.command()
def configs() -> None:
    """List the run configs shipped with s2sa (use one with `s2sa train --config NAME`)."""
    from rich.table import Table

    table = Table("name", "what", box=None)
    for name, path in shipped_configs().items():
        header = " ".join(line.lstrip("# ").strip() for line in itertools.takewhile(lambda line: line.startswith("#"), path.read_text().splitlines()))
        table.add_row(name, escape(header.split(". ")[0].rstrip(".") + "."))
    Console().print(table)


@app.command("export-adapter")
def export_adapter(
    run_dir: Annotated[Path, typer.Argument(parser=path_text, help="Run folder written by `s2sa train` (or an exported adapter folder).")],
    output: Annotated[Path, Opt(parser=path_text, help="Folder to write the export into.")],
    checkpoint: Annotated[Optional[str], Opt(help="best, last or a step number (default: the run's final adapter/).")] = None,
    merge: Annotated[bool, Opt("--merge", help="Fold a LoRA-family adapter into the weights: a plain transformers model.")] = False,
    overwrite: Annotated[bool, Opt("--overwrite", help="Replace a non-empty --output.")] = False,
    quantize: Annotated[Optional[str], Opt(help="none or int8: recorded in the export's decoding settings; int8 makes s2sa eval, summarize and load_summarizer generate with int8 Linear layers on the CPU (default: the run's).", show_default=False)] = None,
    trust_remote_code: TrustRemoteCode = False,
) -> None:
    """Export an adapter (adapters format, safetensors, tokenizer, model card), or merge it into a plain model."""
    from seq2seq_adapters.layout.export_folder import (
        plan_export,  # reads no model: every path and file check before torch
    )

    with user_errors():
        plan = plan_export(run_dir, output, checkpoint=checkpoint, overwrite=overwrite, quantize=quantize, merge=merge)
        from seq2seq_adapters.export.writer import write_export  # heavy (torch, adapters, transformers)

        result = write_export(plan, output, merge=merge, overwrite=overwrite, trust_remote_code=trust_remote_code)
    console.print(f"[green]done:[/] exported to [bold]{result}[/]")


# Decoding options of `eval` and `summarize`: every GenerationArgs field, defaulting to the run's setting.
DECODING_OPTIONS = setting_options(
    {"generation": GenerationArgs}, flags_of=lambda section, f: (flag_name(f.name),), help_suffix=" (default: the run's)"
)
BaseEncoder = Annotated[Optional[str], Opt(help="Base encoder checkpoint (default: the one recorded with the weights).", show_default=False)]
BaseDecoder = Annotated[Optional[str], Opt(help="Base decoder checkpoint (default: the one recorded with the weights).", show_default=False)]


COMPARE_READS = ("targets", "split", "markdown", "plot", "compare")
"""The parameters of `eval` that `--compare` reads; any other option given with it is refused."""


def given_options(ctx: typer.Context) -> list[str]:
    """The command's parameters that the user gave on the command line (not left at their defaults): the command's
    own first, then the generated ones (`section__field`). A value given as 0 or off counts as not given, as it
    always has for `eval --compare`."""
    given = [
        param.name for param in ctx.command.params
        if param.name is not None and getattr(ctx.get_parameter_source(param.name), "name", "DEFAULT") != "DEFAULT"
        and ctx.params.get(param.name) not in (None, False)
    ]  # fmt: skip
    return sorted(given, key=lambda name: "__" in name)


@app.command("eval")
@with_options(DECODING_OPTIONS)
def eval_command(
    ctx: typer.Context,
    targets: Annotated[list[Path], typer.Argument(parser=path_text, help="Run folder, checkpoint or exported adapter folder; with --compare: several run/eval folders or rouge_<split>.json files.", show_default=False)],
    data: Annotated[Optional[str], Opt(help="Data file, folder of split files or hub id (default: the run's training data).", show_default=False)] = None,
    split: Annotated[str, Opt(help="Split to summarise and score (train, validation, test).")] = "test",
    max_samples: Annotated[Optional[int], Opt(help="Use only the first N examples of the split (default: all).", show_default=False)] = None,
    output_dir: Annotated[Optional[Path], Opt(parser=path_text, help="Where to write predictions and reports (default: <run>/eval-<split>).", show_default=False)] = None,
    text_column: Annotated[Optional[str], Opt(help="Column with the documents (default: the run's, or detected).", show_default=False)] = None,
    summary_column: Annotated[Optional[str], Opt(help="Column(s) with the reference summaries (default: the run's, or detected).", show_default=False)] = None,
    overwrite: Annotated[bool, Opt("--overwrite", help="Replace reports in --output-dir written for other weights.")] = False,
    encoder: BaseEncoder = None,
    decoder: BaseDecoder = None,
    compare: Annotated[bool, Opt("--compare", help="Compare the rouge_<split>.json reports of several runs in one table.")] = False,
    markdown: Annotated[Optional[Path], Opt(parser=path_text, help="With --compare: also write the table as Markdown to this file.", show_default=False)] = None,
    plot: Annotated[Optional[Path], Opt(parser=path_text, help="With --compare: draw the runs' training curves (loss, lr, validation ROUGE) overlaid into this PNG.", show_default=False)] = None,
    trust_remote_code: TrustRemoteCode = False,
    options: dict[str, object] | None = None,
) -> None:
    """Summarise a split with trained weights; write predictions, ROUGE (with CI and Lead-k) and print a table."""
    generation = sectioned(options or {}).get("generation", {})
    from seq2seq_adapters.evaluation.compare import compare_runs
    from seq2seq_adapters.evaluation.evaluate_run import evaluate_run

    with user_errors():
        if compare:
            ignored = [flag_name(name.split("__")[-1]) for name in given_options(ctx) if name not in COMPARE_READS]
            if ignored:
                raise S2SAError(f"--compare reads existing reports; {', '.join(ignored)} do not apply")
            compare_runs(targets, split, markdown, plot=plot)
            return
        if len(targets) != 1 or markdown is not None or plot is not None:
            raise S2SAError("eval takes one run or adapter folder; several folders, --markdown and --plot go with --compare")
        result = evaluate_run(
            targets[0], split=split, data=data, text_column=text_column, summary_column=summary_column,
            max_samples=max_samples, output_dir=output_dir, overwrite=overwrite, encoder=encoder, decoder=decoder,
            generation=generation, console=console, trust_remote_code=trust_remote_code,
        )  # fmt: skip
    console.print(f"[green]done:[/] predictions and ROUGE report in [bold]{result.output_dir}[/]")


@app.command()
@with_options(DECODING_OPTIONS)
def summarize(
    source: Annotated[Path, typer.Argument(parser=path_text, help="Run folder, checkpoint or exported adapter folder.", show_default=False)],
    files: Annotated[Optional[list[str]], typer.Argument(help="Text files (one document each) or .jsonl files (one per line); none or '-': stdin.", show_default=False)] = None,
    jsonl: Annotated[bool, Opt("--jsonl", help="Read stdin as JSON lines, one document per line (default: all of stdin is one document).")] = False,
    text_column: Annotated[Optional[str], Opt(help="Field of the JSON lines holding the text (default: detected).", show_default=False)] = None,
    output: Annotated[Optional[Path], Opt(parser=path_text, help="Write JSON lines {id, source, summary} here instead of one summary per line on stdout.", show_default=False)] = None,
    long_documents: Annotated[str, Opt(help="Documents over the source limit: truncate (cut them, as training does) or chunk (summarise overlapping windows, then their summaries).")] = "truncate",
    encoder: BaseEncoder = None,
    decoder: BaseDecoder = None,
    trust_remote_code: TrustRemoteCode = False,
    options: dict[str, object] | None = None,
) -> None:
    """Summarise documents from files or stdin with trained weights; summaries go to stdout (or --output)."""
    generation = sectioned(options or {}).get("generation", {})
    from seq2seq_adapters.generation.summarize_documents import read_documents, summarize_documents, write_summaries

    with user_errors():
        documents = read_documents(files or [], jsonl=jsonl, text_column=text_column)
        check_output_file(output, "--output", [*(files or []), source])
        summaries = summarize_documents(source, documents, encoder=encoder, decoder=decoder, generation=generation,
                                        long_documents=long_documents, console=console, trust_remote_code=trust_remote_code)
        write_summaries(documents, summaries, output)
    if output is not None:
        console.print(f"[green]done:[/] {len(summaries)} summaries written to [bold]{output}[/]")
