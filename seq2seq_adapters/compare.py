"""`s2sa eval --compare`: one table of several runs' ROUGE reports for a split."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from .data_files import SPLIT_NAMES
from .errors import S2SAError
from .io_utils import atomic_write_text, check_output_file, read_json
from .reports import compare_markdown, compare_table
from .run_dir import RunDir


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
    check_output_file(markdown, "--markdown", targets)
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
