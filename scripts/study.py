"""Adapter study on DialogSum: every variant gets the same training budget and the same test examples.

The selected variants are the trials of one `s2sa tune` (library call) in <work>/tune: its search space
(<work>/space.yaml) lists the values of every setting the variants change, and every variant is one `first` trial,
so the tune trains exactly those, each an ordinary run folder (<work>/tune/trials/trial-NNNN; the tune's own table
is <work>/tune/results.md). The study then scores the first N test dialogues of every finished run against all
three references with `s2sa eval`, names each trial by the variant whose settings it trained, and rewrites
docs/studies/adapters-100-steps.md (table + PNG plot).

    python scripts/study.py --steps 100 --test-samples 200              # all variants
    python scripts/study.py --only full seq_bn lora --steps 100          # a subset
    python scripts/study.py --steps 100 --decoding "seq_bn + new weights"   # decoding settings of one trained variant
    python scripts/study.py --steps 4 --set model.encoder=DIR --set model.decoder=DIR   # any run setting, for all

The same command again continues the study (finished variants kept, an interrupted one continued from its
checkpoint; once all are done it only rewrites the results). One --work folder holds one study: other --only or
run settings (--steps, --set, ...) need another --work, and --decoding takes the study's own arguments. Several
workers share a study through Optuna (the tune's journal file): `--workers N` starts N-1 more with the same
arguments (logs: work/workerN.log), or start the same command by hand beside it; no variant trains twice. On a GPU:

    python scripts/study.py --steps 1000 --bf16 --workers 8 --work runs/gpu --results docs/studies/adapters-gpu.md
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from seq2seq_adapters.config.loading import load_config, parse_overrides
from seq2seq_adapters.config.schema import RunConfig
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import atomic_write_json, atomic_write_text, read_json
from seq2seq_adapters.evaluation.evaluate_run import evaluate_run
from seq2seq_adapters.evaluation.rouge import compute_rouge
from seq2seq_adapters.layout.run_folder import RunDir
from seq2seq_adapters.tuning.report import trial_rows
from seq2seq_adapters.tuning.space import SearchSpace, load_space
from seq2seq_adapters.tuning.tune import plan_tune, run_tune, study_of

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Variant:
    """One row of the study: a name and the config overrides that define it."""

    name: str
    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    control: bool = False  # a known-bad setting shown for contrast, never a candidate for the targets
    generation: dict = field(default_factory=dict)


STUDY_BASE = {"model": {"adapter_config": "seq_bn", "cross_attention_init": "random", "train": "adapter,new"}, "train": {"learning_rate": 5e-4},
              "generation": {"length_penalty": 1.0}}
"""Settings every variant starts from, whatever today's defaults are (the study chose them): a variant
changes only what its name says."""

FULL_LR = 1e-4
"""Learning rate of the full fine-tuning rows whose name gives none (best of 5e-5/1e-4/3e-4 at 1000 steps)."""

FULL_MODEL = {"train": "all", "leave_out": []}
SELF = {"cross_attention_init": "self"}
ADAPTER_ONLY = {**SELF, "train": "adapter,head"}
"""Adapter-only rows (issue 14): cross-attention copied from self-attention and frozen, LM-head transform trained."""
LORA_QKV = "lora[r={r},alpha={r},attn_matrices=['q','k','v']]"
"""LoRA on query, key and value of every attention block: self-attention and, in the decoder, cross-attention."""
FLAT_PREFIX = "prefix_tuning[flat=True,prefix_length=30]"
"""Prefix tuning without the reparametrising MLP: 30 learned key/value slots in every attention block (adapters
adds them to BERT's self-attention whatever encoder_prefix says, so they cannot be kept to cross-attention)."""

VARIANTS = [
    Variant("full", FULL_MODEL, {"learning_rate": FULL_LR}),
    Variant("full, cross-attn=self", {**FULL_MODEL, **SELF}, {"learning_rate": FULL_LR}),
    *(Variant(f"full lr={lr:g}", FULL_MODEL, {"learning_rate": lr}) for lr in (5e-5, 3e-4)),
    Variant("full, cross-attn=self, lr=0.0003", {**FULL_MODEL, **SELF}, {"learning_rate": 3e-4}),
    Variant("seq_bn, new weights frozen (trap)", {"adapter_config": "seq_bn", "train": "adapter"}, control=True),
    *(Variant(f"{c} + new weights", {"adapter_config": c}) for c in ("seq_bn", "double_seq_bn", "par_bn", "lora", "ia3", "prefix_tuning", "mam")),
    Variant("seq_bn, cross-attn=self, frozen", {"adapter_config": "seq_bn", **SELF, "train": "adapter"}),
    Variant("lora, cross-attn=self, frozen", {"adapter_config": "lora", **SELF, "train": "adapter"}),
    Variant("seq_bn, cross-attn=self, trained", {"adapter_config": "seq_bn", **SELF}),
    *(Variant(f"seq_bn, cross-attn=self, lr={lr:g}", {"adapter_config": "seq_bn", **SELF}, {"learning_rate": lr})
      for lr in (1e-3, 2e-3, 4e-3)),
    Variant("seq_bn, leave_out none", {"adapter_config": "seq_bn", "leave_out": []}),
    Variant("seq_bn, leave_out 0,1,2", {"adapter_config": "seq_bn", "leave_out": [0, 1, 2]}),
    *(Variant(f"seq_bn lr={lr:g}", {"adapter_config": "seq_bn"}, {"learning_rate": lr}) for lr in (1e-3, 2e-3)),
    *(Variant(f"lora lr={lr:g}", {"adapter_config": "lora"}, {"learning_rate": lr}) for lr in (1e-3, 2e-3)),
    # Adapter-only (issue 14): at most 2% of the weights, cross-attention frozen as a copy of self-attention.
    *(Variant(f"AO seq_bn + head, lr={lr:g}", {**ADAPTER_ONLY, "adapter_config": "seq_bn"}, {"learning_rate": lr}) for lr in (2e-3, 5e-3)),
    *(Variant(f"AO double_seq_bn + head, lr={lr:g}", {**ADAPTER_ONLY, "adapter_config": "double_seq_bn"}, {"learning_rate": lr})
      for lr in (2e-3, 5e-3)),
    *(Variant(f"AO lora qkv r{r} + head, lr={lr:g}", {**ADAPTER_ONLY, "adapter_config": LORA_QKV.format(r=r)}, {"learning_rate": lr})
      for r, lr in ((16, 2e-3), (16, 5e-3), (16, 1e-2), (24, 5e-3))),
    Variant("AO lora qkv r16 + head, leave_out none, lr=0.005", {**ADAPTER_ONLY, "adapter_config": LORA_QKV.format(r=16), "leave_out": []},
            {"learning_rate": 5e-3}),
    *(Variant(f"AO lora qkv r8 + double_seq_bn + head, lr={lr:g}",
              {**ADAPTER_ONLY, "adapter_config": f"{LORA_QKV.format(r=8)}|double_seq_bn"}, {"learning_rate": lr}) for lr in (2e-3, 5e-3)),
    Variant("AO ia3 + head, lr=0.005", {**ADAPTER_ONLY, "adapter_config": "ia3"}, {"learning_rate": 5e-3}),
    Variant("AO flat prefix + head, lr=0.005", {**ADAPTER_ONLY, "adapter_config": FLAT_PREFIX}, {"learning_rate": 5e-3}),
    *(Variant(f"AO lora qkv r{r} + double_seq_bn + head, lr={lr:g}",
              {**ADAPTER_ONLY, "adapter_config": f"{LORA_QKV.format(r=r)}|double_seq_bn"}, {"learning_rate": lr}) for r, lr in ((8, 3e-3), (12, 5e-3))),
    Variant("AO double_seq_bn + head, lr=0.01", {**ADAPTER_ONLY, "adapter_config": "double_seq_bn"}, {"learning_rate": 1e-2}),
    Variant("AO lora qkv r8 + double_seq_bn + head, lr=0.005, length penalty 2",
            {**ADAPTER_ONLY, "adapter_config": f"{LORA_QKV.format(r=8)}|double_seq_bn"}, {"learning_rate": 5e-3}, generation={"length_penalty": 2.0}),
    Variant("seq_bn, cross-attn=self, lr=0.002, length penalty 2", {"adapter_config": "seq_bn", **SELF}, {"learning_rate": 2e-3},
            generation={"length_penalty": 2.0}),
    Variant("AO lora qkv r16, head frozen, lr=0.005", {**SELF, "train": "adapter", "adapter_config": LORA_QKV.format(r=16)},
            {"learning_rate": 5e-3}),
]


CONTROLS = {v.name for v in VARIANTS if v.control}
FULL = {v.name for v in VARIANTS if v.model.get("train") == "all"}


TUNE_DIR, SPACE_FILE, DECODING_FILE = "tune", "space.yaml", "decoding.json"
"""In --work: the tune folder, the search space the variants make, the --decoding rows."""
DATA, WORK = ROOT.parent / "shared" / "data" / "dialogsum", ROOT / "runs" / "study"
RESULTS = ROOT / "docs" / "studies" / "adapters-100-steps.md"
"""The defaults of --data, --work and --results."""
BEING_WRITTEN = "is being written by another s2sa command"
"""s2sa's refusal of a folder that another command writes: here, another worker scoring the same run."""


def slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name).strip("-").lower()


def base_config(args: argparse.Namespace) -> RunConfig:
    """configs/dialogsum.yaml with the study's budget, data, STUDY_BASE and --set: where every variant's trial starts.

    model.leave_out stays at its default (layers 0,1 on MiniLM, what the config sets) unless --set gives it: tune
    checks each choice on this config, and the full rows' `model.train: all` is refused beside layers left out."""
    settings = parse_overrides(args.set)
    settings["model"] = {"leave_out": None, **settings.get("model", {})}
    overrides = {
        "model": dict(STUDY_BASE["model"]),
        "train": {**STUDY_BASE["train"], "max_steps": args.steps, "save_total_limit": 1, "bf16": args.bf16},
        "data": {"data": str(args.data), "max_eval_samples": 16},  # the test split is what counts
        "generation": {**STUDY_BASE["generation"], "num_beams": args.num_beams},
    }
    return load_config("dialogsum", overrides, settings)


def own_settings(variant: Variant) -> dict[str, Any]:
    """What a variant changes, as `section.key: value`."""
    sections = {"model": variant.model, "train": variant.train, "generation": variant.generation}
    return {f"{section}.{key}": value for section, values in sections.items() for key, value in values.items()}


def choice(value: Any) -> Any:
    """A setting's value as a tune choice, which cannot be a list: leave_out [0, 1] as its flag's text "0,1"."""
    return ",".join(map(str, value)) if isinstance(value, list) else value


def trial_values(variants: list[Variant], base: RunConfig) -> list[dict[str, Any]]:
    """One trial per variant: its value of every setting any variant changes (the base config's if it changes none)."""
    keys = list(dict.fromkeys(key for variant in variants for key in own_settings(variant)))
    defaults = {key: getattr(getattr(base, key.split(".")[0]), key.split(".")[1]) for key in keys}
    values = [{key: choice(own_settings(variant).get(key, defaults[key])) for key in keys} for variant in variants]
    for n, item in enumerate(values):
        if item in values[:n]:  # the tune would run it once, and one row would go unnamed
            twin = variants[values.index(item)].name
            raise S2SAError(f"variants {twin!r} and {variants[n].name!r} train the same settings")
    return values


def write_space(path: Path, values: list[dict[str, Any]], base: RunConfig) -> SearchSpace:
    """The variants as a tune's search space (each setting's distinct values as its choices, every variant a `first`
    trial), written for the record and read back through tune's own checks of every value."""
    space = {key: {"choices": list(dict.fromkeys(item[key] for item in values))} for key in values[0]}
    atomic_write_text(path, yaml.safe_dump({"space": space, "first": values}, sort_keys=False))
    return load_space(path, base)


def settings_key(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True)


def variant_runs(work: Path, variants: list[Variant], space: SearchSpace) -> dict[str, Path]:
    """The run folder of each variant whose trial finished, by name: a trial is the variant whose settings it trains."""
    if not (work / TUNE_DIR).is_dir():
        return {}  # no study yet
    done = {settings_key(row.settings): Path(row.run_dir) for row in trial_rows(study_of(str(work / TUNE_DIR), None), work / TUNE_DIR)
            if row.state == "complete"}
    return {variant.name: done[settings_key(values)] for variant, values in zip(variants, space.first)
            if settings_key(values) in done}


def rouge_test_file(run_dir: Path) -> Path:
    return RunDir(run_dir).eval_dir("test") / "rouge_test.json"


def score_test(run_dir: Path, args: argparse.Namespace, console: Console) -> None:
    """A run's test summaries and ROUGE (its eval-test/), once: not again, nor while another worker writes them."""
    if rouge_test_file(run_dir).is_file():
        return
    try:
        evaluate_run(run_dir, split="test", max_samples=args.test_samples, overwrite=True, console=console)
    except S2SAError as exc:
        if BEING_WRITTEN not in str(exc):
            raise
        console.print(f"{run_dir}: another worker is scoring it", highlight=False)


def f1(aggregate: dict) -> dict:
    """F1 (mean and 95% CI) of each ROUGE kind in a report's aggregate."""
    return {kind: stats["fmeasure"] for kind, stats in aggregate.items()}


def table_row(name: str, run_dir: Path) -> dict:
    """A variant's row: its run's trained weights and speed, its test ROUGE, the baselines on the same dialogues."""
    run = RunDir(run_dir)
    record = json.loads(run.record.read_text())
    systems = json.loads(rouge_test_file(run_dir).read_text())["systems"]
    lines = (run.eval_dir("test") / "predictions_test.jsonl").read_text().splitlines()
    predictions = [json.loads(line) for line in lines]
    params = record["parameters"]
    return {
        "name": name,
        "trainable": params["trained"],
        "trainable_pct": params["trained_percent"],
        "adapter_bytes": sum(path.stat().st_size for path in run.adapter.glob("*.safetensors")),
        "distinct": len({p["prediction"] for p in predictions}),
        "test_count": len(predictions),
        "train_s": record["wall_time_s"],
        "samples_per_s": record["train_samples_per_s"],
        "trained_samples": record["global_step"] * record["effective_batch_size"],
        "rouge": f1(systems["model"]["aggregate"]),
        "lead": f1(next(system for label, system in systems.items() if label.startswith("lead"))["aggregate"]),
        "longest_utterance": longest_utterance_rouge(predictions),
        "avg_words": sum(len(p["prediction"].split()) for p in predictions) / len(predictions),
    }


def report(args: argparse.Namespace, variants: list[Variant], space: SearchSpace, console: Console) -> None:
    """Score every finished run not scored yet, then rewrite the results from all scored ones (other workers' too)."""
    runs = variant_runs(args.work, variants, space)
    for run_dir in runs.values():
        score_test(run_dir, args, console)
    rows = [table_row(name, run_dir) for name, run_dir in runs.items() if rouge_test_file(run_dir).is_file()]
    write_results(args, variants, rows)


DECODING = [
    {"num_beams": 1},
    {"num_beams": 4, "length_penalty": 2.0},
    {"num_beams": 4, "min_new_tokens": 15},
]
"""Decoding settings tried on one trained variant, besides its own row's (configs/dialogsum.yaml: beam 4,
length penalty 1.0, at least 8 new tokens)."""


def decoding_name(variant_name: str, settings: dict) -> str:
    """'variant: num_beams 4, length_penalty 2.0' (without the variant when it is empty)."""
    label = ", ".join(f"{k} {v}" for k, v in settings.items())
    return f"{variant_name}: {label}" if variant_name else label


def run_decoding(run_dir: Path, settings: dict, args: argparse.Namespace, console: Console) -> dict:
    """Re-score one trained variant's test summaries under other decoding settings."""
    label = decoding_name("", settings)
    start = time.perf_counter()
    outcome = evaluate_run(run_dir, split="test", max_samples=args.test_samples, output_dir=run_dir / f"decoding-{slug(label)}",
                           overwrite=True, generation=settings, console=console)
    scores = json.loads((outcome.output_dir / "rouge_test.json").read_text())
    return {
        "name": decoding_name(args.decoding, settings),
        "rouge": f1(scores["systems"]["model"]["aggregate"]),
        "avg_words": scores["avg_words_prediction"],
        "seconds": time.perf_counter() - start,
    }


def run_decodings(args: argparse.Namespace, runs: dict[str, Path], console: Console) -> None:
    """--decoding: the DECODING settings on one trained variant, in this process; decoding.json is rewritten after
    each setting, so a stopped run keeps its rows and the same command again skips them."""
    if args.decoding not in runs:
        raise S2SAError(f"--decoding {args.decoding!r}: no finished run of that variant in {args.work / TUNE_DIR} "
                        "(run the study first, with the same arguments)")
    path = args.work / DECODING_FILE
    rows = read_json(path) or {}
    for settings in DECODING:
        name = decoding_name(args.decoding, settings)
        if name not in rows:
            rows[name] = run_decoding(runs[args.decoding], settings, args, console)
            atomic_write_json(path, rows)


def longest_utterance(dialogue: str) -> str:
    """The dialogue's longest turn (by words), without its `#PersonN#:` speaker tag."""
    turn = max(dialogue.splitlines() or [dialogue], key=lambda line: len(line.split()))
    return turn.split(":", 1)[1].strip() if turn.startswith("#") and ":" in turn else turn.strip()


def longest_utterance_rouge(predictions: list[dict]) -> dict:
    """The 'copy the longest utterance' baseline on the same examples and references."""
    result = compute_rouge([longest_utterance(p["document"]) for p in predictions], [p["references"] for p in predictions])
    return f1(result.aggregate)


def distinct_summaries(row: dict) -> str:
    """'N/M': different test summaries N among M dialogues."""
    return f"{row['distinct']}/{row['test_count']}"


TARGET_RATIO, TARGET_DISTINCT = 0.95, 0.95
"""Issue 14's bar: 95% of the best full fine-tuning row's ROUGE-L, with 95% (190 of 200) distinct summaries."""


def meets_target(row: dict, full: dict) -> bool:
    """TARGET_RATIO of full fine-tuning's ROUGE-L and TARGET_DISTINCT of the summaries distinct."""
    return ratio(row, full) >= TARGET_RATIO and row["distinct"] >= TARGET_DISTINCT * row["test_count"]


def ratio(row: dict, full: dict) -> float:
    """ROUGE-L of a row relative to full fine-tuning's."""
    return row["rouge"]["rougeL"]["mean"] / full["rouge"]["rougeL"]["mean"]


def cell(stats: dict) -> str:
    return f"{100 * stats['mean']:.2f} [{100 * stats['low']:.2f}, {100 * stats['high']:.2f}]"


SETUP = "2 CPU cores, one torch thread per worker, two workers side by side."
"""Where the study ran (the results header says it; --setup changes it)."""

READING = "## Reading"
"""Heading of the hand-written part of the results file, which rewrites keep."""


def regenerate_command(args: argparse.Namespace, variants: list[Variant]) -> str:
    """The study.py command line that rebuilds args.results: defaults left out, --only for a subset of the variants."""
    command = f"python scripts/study.py --steps {args.steps} --test-samples {args.test_samples} --num-beams {args.num_beams}"
    if args.bf16:
        command += " --bf16"
    if args.setup != SETUP:
        command += f' --setup "{args.setup}"'
    for flag, value, default in (("--data", args.data, DATA), ("--work", args.work, WORK), 
                                 ("--results", args.results, RESULTS)):
        if value.resolve() != default.resolve():
            command += f" {flag} {value.resolve().relative_to(ROOT) if value.resolve().is_relative_to(ROOT) else value}"
    command += "".join(f" --set {shlex.quote(item)}" for item in args.set)
    if variants != VARIANTS:
        command += " --only " + " ".join(f'"{variant.name}"' for variant in variants)
    return command


def write_results(args: argparse.Namespace, variants: list[Variant], rows: list[dict]) -> None:
    """docs/studies/adapters-100-steps.md from the scored rows: table, ratios to full fine-tuning, decoding, plot."""
    decoding = list((read_json(args.work / DECODING_FILE) or {}).values())
    lines = [
        "# Summary quality: adapters against full fine-tuning on DialogSum",
        "",
        f"Bundled MiniLM encoder and decoder, {args.steps} optimizer steps of batch 16 per variant "
        "(configs/dialogsum.yaml's data, lengths 256/64 and batch, leave_out 0,1, attention dropout 0; every variant uses seq_bn, "
        f"starts from random cross-attention and lr {STUDY_BASE['train']['learning_rate']} (full fine-tuning {FULL_LR}) and "
        f"decodes with length penalty {STUDY_BASE['generation']['length_penalty']} unless its name says "
        f"otherwise), first {args.test_samples} DialogSum test dialogues scored against all three "
        f"references (best per example), beam {args.num_beams}. ROUGE F1 x100, mean [95% bootstrap CI]. "
        f"{'bf16 mixed precision. ' if args.bf16 else ''}{args.setup}",
        "",
        f"Regenerate: `{regenerate_command(args, variants)}`",
        "",
        "`distinct` counts the different summaries among the test dialogues: a model that ignores its input "
        "writes the same summary for every dialogue.",
        "",
        "`AO` rows are adapter-only: cross-attention copied from self-attention and frozen, the LM-head transform "
        "trained (`--train adapter,head`), learning rate as named.",
        "",
        "`size` is the run's `adapter/` folder on disk (adapter plus non-adapter weights, safetensors): what one task costs beside "
        "the shared base model.",
        "",
        "| variant | trainable | % | size MB | train s | samples/s | words | distinct | ROUGE-1 | ROUGE-2 | ROUGE-L | ROUGE-Lsum |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- |",
    ]
    for row in rows:
        r = row["rouge"]
        lines.append(
            f"| {row['name']} | {row['trainable']:,} | {row['trainable_pct']:.2f} | {row['adapter_bytes'] / 1e6:.2f} | "
            f"{row['trained_samples'] / row['samples_per_s']:.0f} | {row['samples_per_s']:.2f} | {row['avg_words']:.1f} | {distinct_summaries(row)} | "
            f"{cell(r['rouge1'])} | {cell(r['rouge2'])} | {cell(r['rougeL'])} | {cell(r['rougeLsum'])} |"
        )
    for label, key in (("Lead-k baseline", "lead"), ("longest utterance baseline", "longest_utterance")):
        if rows:
            b = rows[0][key]
            lines.append(f"| {label} | 0 | 0 | - | - | - | - | - | {cell(b['rouge1'])} | {cell(b['rouge2'])} | {cell(b['rougeL'])} | {cell(b['rougeLsum'])} |")
    full = max((row for row in rows if row["name"] in FULL), key=lambda row: row["rouge"]["rougeL"]["mean"], default=None)
    if full:
        lines += ["", f"ROUGE-L relative to full fine-tuning (its best row: {full['name']}):", ""]
        for row in rows:
            lines.append(f"- {row['name']}: {ratio(row, full):.1%} of full fine-tuning's ROUGE-L with {row['trainable_pct']:.2f}% of the parameters")
        lines += ["", "Targets (the trap is a control, not a candidate):", ""]
        for label, limit in (("at most 10%", 10.0), ("at most 2%", 2.0)):
            candidates = [row for row in rows if row["name"] not in FULL | CONTROLS and row["trainable_pct"] <= limit]
            meeting = [row for row in candidates if meets_target(row, full)]
            if candidates:
                best = max(meeting or candidates, key=lambda row: row["rouge"]["rougeL"]["mean"])
                verdict = f" (target {TARGET_RATIO:.0%} with {TARGET_DISTINCT:.0%} distinct: {'met' if meeting else 'missed'})"
                lines.append(f"- best variant training {label} of the parameters{' that meets the target' if meeting else ''}: {best['name']}, "
                             f"{ratio(best, full):.1%} of full fine-tuning's ROUGE-L{verdict}; distinct summaries "
                             f"{distinct_summaries(best)} (full fine-tuning: {distinct_summaries(full)})")
    if decoding:
        lines += ["", "Decoding settings on one trained variant (same test dialogues; `--decoding`):", "",
                  "| variant: decoding | words | seconds | ROUGE-1 | ROUGE-2 | ROUGE-L | ROUGE-Lsum |",
                  "| --- | ---: | ---: | --- | --- | --- | --- |"]
        for row in decoding:
            r = row["rouge"]
            lines.append(f"| {row['name']} | {row['avg_words']:.1f} | {row['seconds']:.0f} | {cell(r['rouge1'])} | "
                         f"{cell(r['rouge2'])} | {cell(r['rougeL'])} | {cell(r['rougeLsum'])} |")
    figure = args.results.with_name(f"{args.results.stem}_rougeL.png")
    lines += ["", f"![ROUGE-L against trainable fraction]({figure.name})", ""]
    args.results.parent.mkdir(parents=True, exist_ok=True)
    previous = args.results.read_text() if args.results.exists() else ""
    reading = previous[previous.index(READING):] if READING in previous else ""  # hand-written, kept
    args.results.write_text("\n".join(lines) + "\n" + reading)
    plot(rows, figure)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for row in rows:
        x, y = row["trainable_pct"], 100 * row["rouge"]["rougeL"]["mean"]
        ax.scatter(x, y)
        ax.annotate(row["name"], (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters (% of model, log scale)")
    ax.set_ylabel("ROUGE-L F1 (DialogSum test)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)  # every worker rewrites the plot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--test-samples", type=int, default=200)
    parser.add_argument("--num-beams", type=int, default=4)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--only", nargs="*", help="variant names (exact, else prefix match), run in this order")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--decoding", metavar="VARIANT", help="try the DECODING settings on this trained variant")
    parser.add_argument("--bf16", action="store_true", help="train with bf16 mixed precision (GPU)")
    parser.add_argument("--workers", type=int, default=1, help="study processes side by side, sharing --work (logs: work/workerN.log)")
    parser.add_argument("--setup", default=SETUP, help="the hardware and worker layout, for the results header")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="a run setting of every variant, as s2sa train reads it (model.encoder=DIR); repeatable")
    args = parser.parse_args()
    try:
        run_study(args, Console(stderr=True))
    except S2SAError as exc:
        raise SystemExit(f"error: {exc}") from None


def run_study(args: argparse.Namespace, console: Console) -> None:
    """Train the variants no worker has trained (one tune, which --workers share), or --decoding; then the results."""
    variants = [v for name in args.only for v in selected(name)] if args.only else VARIANTS
    base = base_config(args)
    args.work.mkdir(parents=True, exist_ok=True)
    space = write_space(args.work / SPACE_FILE, trial_values(variants, base), base)
    if args.decoding:
        run_decodings(args, variant_runs(args.work, variants, space), console)
    else:
        # every trial is a `first` one, so the sampler draws nothing; not grid: Optuna 5's GridSampler fails an enqueued
        # trial that ends with one grid point left (KeyError 'grid_id'), as a one-variant study's does
        plan = plan_tune(base, space, args.work / TUNE_DIR, trials=len(variants), sampler="random", pruner="none")
        helpers = start_helpers(args)
        run_tune(plan, console)
        if helpers:
            report(args, variants, space, console)  # this worker's runs, while the helpers finish theirs
            for helper in helpers:
                helper.wait()
    report(args, variants, space, console)


def selected(name: str) -> list[Variant]:
    """The variant called `name`, or else every variant whose name starts with it ("full" is one row, "lora" all LoRA rows)."""
    chosen = [v for v in VARIANTS if v.name == name] or [v for v in VARIANTS if v.name.startswith(name)]
    if not chosen:
        raise S2SAError(f"--only {name!r} names no variant")
    return chosen


def start_helpers(args: argparse.Namespace) -> list[subprocess.Popen]:
    """args.workers - 1 more study processes with this one's arguments, each logging to work/workerN.log."""
    helpers = []
    for n in range(2, args.workers + 1):
        with open(args.work / f"worker{n}.log", "w") as log:  # the child keeps its own copy of the file
            helpers.append(subprocess.Popen([sys.executable, __file__, *sys.argv[1:], "--workers", "1"],
                                            stdout=log, stderr=subprocess.STDOUT))
    return helpers


if __name__ == "__main__":
    main()
