"""`s2sa eval --compare`: one table of several runs' ROUGE reports for a split, and which run is better (paired bootstrap)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rich.console import Console

from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import atomic_write_text, check_output_file, read_json
from seq2seq_adapters.data.sources import SPLIT_NAMES
from seq2seq_adapters.evaluation.curves import plot_curves
from seq2seq_adapters.evaluation.reports import compare_markdown, compare_table, paired_markdown, paired_table
from seq2seq_adapters.evaluation.rouge import ROUGE_TYPES, paired_bootstrap
from seq2seq_adapters.layout.run_folder import RunDir
from seq2seq_adapters.layout.split_report import SplitReport


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
            f"no {SplitReport(target, split).rouge_json.name} in {target} or {run.eval_dir(split)}; "
            f"run `s2sa eval {target} --split {split}` first"
        )
    raise S2SAError(f"not found: {target} (expected a rouge_<split>.json report, a run folder or an eval folder)")


def run_folder(report_path: Path) -> Path:
    """The run folder of a report: its own folder, or the run's for `<run>/eval-<split>`."""
    folder = report_path.parent
    return folder.parent if folder.name.startswith("eval-") else folder


def _label(report_path: Path, report: dict) -> str:
    """The run name recorded in the report (else the run folder's name), and the report's folder where that is
    an `eval --output-dir` of its own: evals of one run with other decoding settings stay apart by name."""
    name = (report.get("run") or {}).get("name") if isinstance(report.get("run"), dict) else None
    name = str(name) if name else run_folder(report_path).name
    place = report_path.parent.name
    return name if place == name or place.startswith("eval-") else f"{name} · {place}"


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


def check_same_examples(reports: dict[str, dict]) -> None:
    """Refuse reports computed on different examples (data, split or number): their numbers do not compare."""
    seen = {}
    for label, report in reports.items():
        data = report.get("data") if isinstance(report.get("data"), dict) else {}
        n = next(iter(report["systems"].values()), {}).get("n_examples")
        seen[label] = (data.get("fingerprint"), report.get("split"), n)
    if len(set(seen.values())) > 1:
        detail = "; ".join(f"{label}: {n} examples of {split} (data {fingerprint})" for label, (fingerprint, split, n) in seen.items())
        raise S2SAError(f"the runs were scored on different examples ({detail}); evaluate them on the same data, split and --max-samples")


def example_scores(report_path: Path, split: str) -> list[tuple[str, dict[str, float]]] | None:
    """(example id, per-example ROUGE F1) in the predictions file's order, next to a report (None without one)."""
    path = SplitReport(report_path.parent, split).predictions
    if not path.is_file():
        return None
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(str(line["id"]), line["rouge"]) for line in lines]


def paired_examples(first: list[tuple[str, dict]], other: list[tuple[str, dict]], labels: tuple[str, str]) -> list[tuple[dict, dict]]:
    """Each example's two scores: by position when both files list the same ids in the same order (repeated ids
    included: predictions keep the input order), else by id when ids are unique; anything else is refused."""
    first_ids, other_ids = [i for i, _ in first], [i for i, _ in other]
    if first_ids == other_ids:
        return [(a, b) for (_, a), (_, b) in zip(first, other)]
    if sorted(first_ids) == sorted(other_ids) and len(set(first_ids)) == len(first_ids):
        by_id = dict(other)
        return [(a, by_id[i]) for i, a in first]
    shared = len(set(first_ids) & set(other_ids))
    repeated = " in another order, with repeated ids" if sorted(first_ids) == sorted(other_ids) else ""
    raise S2SAError(
        f"{labels[0]} and {labels[1]} were scored on different examples{repeated} ({shared} of {len(set(first_ids))} and "
        f"{len(set(other_ids))} ids shared); evaluate both on the same split and --max-samples"
    )


def paired_comparisons(targets: Sequence[str | Path], labels: Sequence[str], split: str) -> dict[str, dict[str, dict[str, float]]]:
    """Paired bootstrap of the first run against each other one, per ROUGE type (F1 x100), over their shared examples."""
    split = SPLIT_NAMES.get(split, split)
    scores = [example_scores(find_report(target, split), split) for target in targets]
    if any(s is None for s in scores):
        return {}
    comparisons = {}
    for label, other in zip(labels[1:], scores[1:]):
        pairs = paired_examples(scores[0], other, (labels[0], label))
        comparisons[f"{labels[0]} - {label}"] = {
            kind: paired_bootstrap(np.array([100 * a[kind] for a, _ in pairs]), np.array([100 * b[kind] for _, b in pairs]))
            for kind in ROUGE_TYPES
        }
    return comparisons


def compare_runs(
    targets: Sequence[str | Path], split: str, markdown: str | Path | None = None, console: Console | None = None, plot: Path | None = None
) -> dict[str, dict]:
    """Print one table of several runs' reports for `split` and the paired bootstrap of the first against the others;
    write both as Markdown to `markdown` if given, and the runs' training curves overlaid to `plot`.
    Runs scored on different examples are refused."""
    console = console or Console()
    check_output_file(markdown, "--markdown", targets)
    check_output_file(plot, "--plot", targets)
    reports = load_reports(targets, split)
    check_same_examples(reports)
    if plot is not None:  # before any output, so that a failure to draw is the one error line
        folders = [run_folder(find_report(target, SPLIT_NAMES.get(split, split))) for target in targets]
        plot_curves({label: RunDir(folder).metrics for label, folder in zip(reports, folders)}, Path(plot))
    comparisons = paired_comparisons(targets, list(reports), split)
    console.print(compare_table(reports))
    if comparisons:
        console.print(paired_table(comparisons))
    else:
        console.print(f"[yellow]warning:[/] no {SplitReport(Path(), split).predictions.name} next to every report: no paired bootstrap")
    if markdown is not None:
        atomic_write_text(Path(markdown), compare_markdown(reports) + (paired_markdown(comparisons) if comparisons else ""))
    return reports
