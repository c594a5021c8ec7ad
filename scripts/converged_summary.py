"""The converged-quality table of issue 31: runs trained to convergence, each scored on a test split.

    python scripts/converged_summary.py RUN [RUN ...] [--epoch-steps 779] [--split test] [--markdown FILE] [--plot FILE]

Each RUN is an `s2sa train` folder with `--eval-steps`, scored by `s2sa eval RUN --split test` (RUN/eval-test).
Per run: the share of weights trained, the steps it ran, its training wall time, the step and epoch where the
validation ROUGE that picks the best checkpoint peaked (the checkpoint that became adapter/), and the test ROUGE
F1 with its bootstrap 95% interval. `--plot` draws the runs' learning curves on shared axes
(seq2seq_adapters.evaluation.curves, as `s2sa eval --compare --plot`). Numbers only: what it reads, it prints.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from seq2seq_adapters.evaluation.compare import find_report
from seq2seq_adapters.evaluation.curves import plot_curves
from seq2seq_adapters.evaluation.reports import TYPE_NAMES, f1_cells, markdown_table
from seq2seq_adapters.evaluation.rouge import ROUGE_TYPES
from seq2seq_adapters.layout.run_folder import RunDir


def best_evaluation(records: list[dict], metric: str) -> dict:
    """The evaluation record (step, epoch, eval_<metric>) with the best validation score: the lowest loss, the highest ROUGE."""
    evaluations = [record for record in records if f"eval_{metric}" in record]
    best = min if metric == "loss" else max
    return best(evaluations, key=lambda record: record[f"eval_{metric}"]) if evaluations else {}


def summary_row(folder: Path, epoch_steps: int | None, split: str = "test") -> dict:
    """What the table shows of one run; epochs are the Trainer's logged ones unless `epoch_steps` is given."""
    run = RunDir(folder)
    record = json.loads(run.record.read_text(encoding="utf-8"))
    records = [json.loads(line) for line in run.metrics.read_text(encoding="utf-8").splitlines() if line.strip()]
    metric = ((record["best_checkpoint"] or {}).get("metric") or record["config"]["train"]["metric_for_best"]).removeprefix("eval_")
    peak = best_evaluation(records, metric)
    model = json.loads(find_report(folder, split).read_text(encoding="utf-8"))["systems"]["model"]
    steps = record["global_step"]

    def epochs(step: int, logged: float) -> float:
        return step / epoch_steps if epoch_steps else logged

    return {
        "run": folder.name,
        "trained_percent": record["parameters"]["trained_percent"],
        "steps": steps,
        "epochs": epochs(steps, records[-1]["epoch"]),
        "wall_time_s": record["wall_time_s"],
        "peak_step": peak.get("step"),
        "peak_epoch": epochs(peak["step"], peak["epoch"]) if peak else None,
        "peak_metric": metric,
        "peak_validation": peak.get(f"eval_{metric}"),
        "scored_examples": model["n_examples"],
        "references": model["n_references_max"],
        "rouge_f1": f1_cells(model),
    }


def markdown(rows: list[dict]) -> str:
    """The table: one row per run, test F1 with its bootstrap interval as `s2sa eval` reports it."""
    header = ["run", "trained", "steps (epochs)", "training wall time", "validation peak: step (epoch), value",
              "scored examples x references", *(f"{TYPE_NAMES[kind]} F1" for kind in ROUGE_TYPES)]
    lines = []
    for row in rows:
        peak = "–" if row["peak_step"] is None else (
            f"{row['peak_step']} ({row['peak_epoch']:.2f}), {row['peak_metric']} {row['peak_validation']:.2f}")
        lines.append([row["run"], f"{row['trained_percent']:.2f}%", f"{row['steps']} ({row['epochs']:.2f})",
                      f"{row['wall_time_s'] / 60:.1f} min", peak, f"{row['scored_examples']} x {row['references']}", *row["rouge_f1"]])
    return markdown_table(header, lines, numeric_from=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="s2sa train folders, each with eval-test/ from `s2sa eval --split test`")
    parser.add_argument("--epoch-steps", type=int, help="optimizer steps per epoch (default: the epochs the Trainer logged)")
    parser.add_argument("--split", default="test", help="the scored split (its rouge_<split>.json, as `s2sa eval --compare` finds it)")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument("--plot", type=Path, help="draw the runs' learning curves here (PNG)")
    args = parser.parse_args(argv)
    table = markdown([summary_row(folder, args.epoch_steps, args.split) for folder in args.runs])
    print(table, end="")
    if args.markdown:
        args.markdown.write_text(table, encoding="utf-8")
    if args.plot:
        plot_curves({folder.name: RunDir(folder).metrics for folder in args.runs}, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
