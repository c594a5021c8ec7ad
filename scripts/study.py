"""Adapter study on DialogSum: every variant gets the same training budget and the same test examples.

Trains each variant with `s2sa train` (library call), scores the first N test dialogues against all
three references with `s2sa eval`, and rewrites docs/studies/adapters-100-steps.md (table + PNG plot) after every variant,
so partial tables are kept when the study is stopped.

    python scripts/study.py --steps 100 --test-samples 200              # all variants
    python scripts/study.py --only full seq_bn lora --steps 100          # a subset
    python scripts/study.py --steps 100 --decoding "seq_bn + new weights"   # decoding settings of one trained variant

Several workers may share one --work folder (`--workers N` starts N-1 more with the same arguments, or
start them by hand, each with its own --only list): each variant is claimed by one worker, rows are
appended to rows.jsonl, and every worker rewrites the results from all rows found there. On a GPU:

    python scripts/study.py --steps 1000 --bf16 --workers 8 --work runs/gpu --results docs/studies/adapters-gpu.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from seq2seq_adapters.config.loading import load_config
from seq2seq_adapters.evaluation.evaluate_run import evaluate_run
from seq2seq_adapters.evaluation.rouge import compute_rouge
from seq2seq_adapters.training.recipe import train

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

BATCH = 16
"""configs/dialogsum.yaml's batch size: every variant trains on args.steps x BATCH dialogues."""


def slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name).strip("-").lower()


def run_variant(variant: Variant, args, console: Console) -> dict:
    """Train and evaluate one variant; returns its table row."""
    run_dir = args.work / slug(variant.name)
    overrides = {
        "model": {**STUDY_BASE["model"], **variant.model},
        "train": {**STUDY_BASE["train"], "max_steps": args.steps, "output_dir": str(run_dir), "save_total_limit": 1,
                  "bf16": args.bf16, **variant.train},
        "data": {"data": str(args.data), "max_eval_samples": 16},  # the test split below is what counts
        "generation": {**STUDY_BASE["generation"], "num_beams": args.num_beams, **variant.generation},
    }
    config = load_config("dialogsum", overrides)
    result = train(config, overwrite=True, console=console)
    outcome = evaluate_run(run_dir, split="test", max_samples=args.test_samples, overwrite=True, console=console)
    record = json.loads((run_dir / "run.json").read_text())
    report = json.loads((outcome.output_dir / "rouge_test.json").read_text())
    predictions = [json.loads(line) for line in (outcome.output_dir / "predictions_test.jsonl").read_text().splitlines()]
    params = record["parameters"]
    return {
        "name": variant.name,
        "trainable": params["trained"],
        "trainable_pct": params["trained_percent"],
        "adapter_bytes": sum(path.stat().st_size for path in (run_dir / "adapter").glob("*.safetensors")),
        "distinct": len({p["prediction"] for p in predictions}),
        "test_count": len(predictions),
        "train_s": record["wall_time_s"],
        "samples_per_s": result.train_samples_per_s,
        "rouge": {kind: stats["fmeasure"] for kind, stats in report["systems"]["model"]["aggregate"].items()},
        "lead": {kind: stats["fmeasure"] for kind, stats in next(v for k, v in report["systems"].items() if k.startswith("lead"))["aggregate"].items()},
        "longest_utterance": longest_utterance_rouge(predictions),
        "avg_words": sum(len(p["prediction"].split()) for p in predictions) / len(predictions),
    }


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


def run_decoding(variant_name: str, settings: dict, args, console: Console) -> dict:
    """Re-score one trained variant's test summaries under other decoding settings."""
    run_dir = args.work / slug(variant_name)
    label = decoding_name("", settings)
    start = time.perf_counter()
    outcome = evaluate_run(run_dir, split="test", max_samples=args.test_samples, output_dir=run_dir / f"decoding-{slug(label)}",
                           overwrite=True, generation=settings, console=console)
    report = json.loads((outcome.output_dir / "rouge_test.json").read_text())
    return {
        "name": decoding_name(variant_name, settings),
        "rouge": {kind: stats["fmeasure"] for kind, stats in report["systems"]["model"]["aggregate"].items()},
        "avg_words": report["avg_words_prediction"],
        "seconds": time.perf_counter() - start,
    }


def longest_utterance(dialogue: str) -> str:
    """The dialogue's longest turn (by words), without its `#PersonN#:` speaker tag."""
    turn = max(dialogue.splitlines() or [dialogue], key=lambda line: len(line.split()))
    return turn.split(":", 1)[1].strip() if turn.startswith("#") and ":" in turn else turn.strip()


def longest_utterance_rouge(predictions: list[dict]) -> dict:
    """The 'copy the longest utterance' baseline on the same examples and references."""
    result = compute_rouge([longest_utterance(p["document"]) for p in predictions], [p["references"] for p in predictions])
    return {kind: stats["fmeasure"] for kind, stats in result.aggregate.items()}


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


def regenerate_command(args, rows: list[dict]) -> str:
    """The study.py command line that rebuilds args.results: defaults left out, --only when rows are a subset."""
    command = f"python scripts/study.py --steps {args.steps} --test-samples {args.test_samples} --num-beams {args.num_beams}"
    if args.bf16:
        command += " --bf16"
    if args.setup != SETUP:
        command += f' --setup "{args.setup}"'
    for flag, value, default in (("--work", args.work, ROOT / "runs" / "study"), ("--results", args.results, ROOT / "docs" / "studies" / "adapters-100-steps.md")):
        if value.resolve() != default:
            command += f" {flag} {value.resolve().relative_to(ROOT) if value.resolve().is_relative_to(ROOT) else value}"
    if len(rows) < len(VARIANTS):
        command += " --only " + " ".join(f'"{row["name"]}"' for row in rows)
    return command


def write_results(args) -> None:
    """docs/studies/adapters-100-steps.md from every worker's rows: the table, ratios against full fine-tuning, decoding, plot."""
    done = finished_rows(args.work / "rows.jsonl")
    rows = [done[v.name] for v in VARIANTS if v.name in done]
    decoding = list(finished_rows(args.work / "decoding.jsonl").values())
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
        f"Regenerate: `{regenerate_command(args, rows)}`",
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
            f"{args.steps * BATCH / row['samples_per_s']:.0f} | {row['samples_per_s']:.2f} | {row['avg_words']:.1f} | {distinct_summaries(row)} | "
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
    plt.close(fig)  # workers rewrite the plot after every row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "dialogsum")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--test-samples", type=int, default=200)
    parser.add_argument("--num-beams", type=int, default=4)
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "study")
    parser.add_argument("--only", nargs="*", help="variant names (exact, else prefix match), run in this order")
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "studies" / "adapters-100-steps.md")
    parser.add_argument("--decoding", metavar="VARIANT", help="try the DECODING settings on this trained variant")
    parser.add_argument("--bf16", action="store_true", help="train with bf16 mixed precision (GPU)")
    parser.add_argument("--workers", type=int, default=1, help="study processes side by side, sharing --work (logs: work/workerN.log)")
    parser.add_argument("--setup", default=SETUP, help="the hardware and worker layout, for the results header")
    args = parser.parse_args()
    console = Console(stderr=True)
    args.work.mkdir(parents=True, exist_ok=True)
    helpers = start_helpers(args)
    if args.decoding:
        rows_path = args.work / "decoding.jsonl"
        jobs = {decoding_name(args.decoding, settings): lambda settings=settings: run_decoding(args.decoding, settings, args, console)
                for settings in DECODING}
    else:
        rows_path = args.work / "rows.jsonl"
        chosen = [v for name in args.only for v in selected(name)] if args.only else VARIANTS
        jobs = {v.name: lambda v=v: run_variant(v, args, console) for v in chosen}  # in --only order
    for name, job in jobs.items():
        if name not in finished_rows(rows_path) and claim(args.work, name):  # other workers' rows and claims count too
            with rows_path.open("a") as handle:
                handle.write(json.dumps(job()) + "\n")
        write_results(args)
    if helpers:
        for helper in helpers:
            helper.wait()
        write_results(args)  # with the rows the helpers finished last


def selected(name: str) -> list[Variant]:
    """The variant called `name`, or else every variant whose name starts with it ("full" is one row, "lora" all LoRA rows)."""
    return [v for v in VARIANTS if v.name == name] or [v for v in VARIANTS if v.name.startswith(name)]


def start_helpers(args) -> list[subprocess.Popen]:
    """args.workers - 1 more study processes with this one's arguments, each logging to work/workerN.log."""
    helpers = []
    for n in range(2, args.workers + 1):
        with open(args.work / f"worker{n}.log", "w") as log:  # the child keeps its own copy of the file
            helpers.append(subprocess.Popen([sys.executable, __file__, *sys.argv[1:], "--workers", "1"],
                                            stdout=log, stderr=subprocess.STDOUT))
    return helpers


def claim(work: Path, name: str) -> bool:
    """Take a job for this worker; False when another worker took it (delete work/claims/ to retry)."""
    folder = work / "claims"
    folder.mkdir(exist_ok=True)
    try:
        os.close(os.open(folder / slug(name), os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    return True


def finished_rows(path: Path) -> dict[str, dict]:
    """Rows written so far by any worker, by variant name."""
    if not path.exists():
        return {}
    return {row["name"]: row for row in map(json.loads, path.read_text().splitlines())}


if __name__ == "__main__":
    main()
