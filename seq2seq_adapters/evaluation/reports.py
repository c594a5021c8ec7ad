"""ROUGE reports: Markdown and rich tables, and the rouge_<split>.json/.md files.

All numbers are shown x100 with 2 decimals as "mean [low, high]" (bootstrap interval).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import atomic_write_json, atomic_write_text
from seq2seq_adapters.evaluation.rouge import MEASURES, ROUGE_TYPES, RougeResult
from seq2seq_adapters.layout.split_report import SplitReport

TYPE_NAMES = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L", "rougeLsum": "ROUGE-Lsum"}
_MEASURE_NAMES = {"precision": "Precision", "recall": "Recall", "fmeasure": "F1"}
SETTINGS_NOTE = (
    "rouge_score, use_stemmer=True, rougeLsum on newline-separated sentences "
    "(settings of the evaluate rouge metric in transformers' summarization example)"
)

# Reports written before RougeResult named its splitter used this one.
_OLD_SPLITTER = "s2sa's old regex splitter (not nltk Punkt, so ROUGE-Lsum differs from nltk.sent_tokenize-based scores)"


def splitter_note(systems: dict[str, dict]) -> str:
    """Which sentence splitter the rougeLsum of these results used (one line)."""
    splitters = dict.fromkeys(s.get("sentence_splitter", _OLD_SPLITTER) for s in systems.values())
    return f"Sentences for rougeLsum split by {'; '.join(splitters)}."


def _cell(stats: dict[str, float]) -> str:
    """'mean [low, high]' x100 with 2 decimals."""
    return f"{100 * stats['mean']:.2f} [{100 * stats['low']:.2f}, {100 * stats['high']:.2f}]"


def f1_cells(result: dict) -> list[str]:
    """F1 cells of one result dict (RougeResult.to_dict() form), in ROUGE_TYPES order."""
    return [_cell(result["aggregate"][t]["fmeasure"]) for t in ROUGE_TYPES]


def _ci_label(systems: Sequence[dict]) -> str:
    """'95% CI' when all results share one confidence level, else 'CI'."""
    levels = {s["bootstrap"]["confidence"] for s in systems}
    return f"{levels.pop():.0%} CI" if len(levels) == 1 else "CI"


def markdown_table(header: list[str], rows: list[list[str]], numeric_from: int) -> str:
    """A GitHub Markdown table; columns from `numeric_from` on are right-aligned."""
    align = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    return "\n".join(
        "| " + " | ".join(c.replace("|", "\\|") for c in line) + " |"
        for line in [header, align, *rows]
    )


def _auto_notes(systems: dict[str, dict]) -> list[str]:
    """Settings, bootstrap, multi-reference and warning notes for a set of results."""
    notes = [SETTINGS_NOTE, splitter_note(systems)]
    for b in dict.fromkeys(
        f"{b['confidence']:.0%} {b['method']} bootstrap over examples, "
        f"{b['n_resamples']} resamples, seed {b['seed']}"
        for b in (s["bootstrap"] for s in systems.values())
    ):
        notes.append(f"Scores x100; mean over examples with {b}.")
    n_refs = max(s["n_references_max"] for s in systems.values())
    if n_refs > 1:
        notes.append(
            f"Best of up to {n_refs} references per example: per ROUGE type, the reference "
            "with the highest F1 is kept (rouge_score score_multi)."
        )
    warned: dict[str, list[str]] = {}
    for name, s in systems.items():
        for w in s["warnings"]:
            warned.setdefault(w, []).append(name)
    notes.extend(f"Warning ({', '.join(names)}): {w}" for w, names in warned.items())
    return notes


def rouge_markdown(results: dict[str, RougeResult], title: str, notes: Sequence[str] = ()) -> str:
    """A Markdown report: an F1 table per system, a precision/recall/F1 table, then notes.

    Standard notes (settings, bootstrap, multi-reference, warnings) come first, then `notes`.
    """
    systems = {name: r.to_dict() for name, r in results.items()}
    ci = _ci_label(list(systems.values()))
    f1_header = ["System", "N", *(f"{TYPE_NAMES[t]} F1 [{ci}]" for t in ROUGE_TYPES)]
    f1_rows = [[name, str(s["n_examples"]), *f1_cells(s)] for name, s in systems.items()]
    prf_header = ["System", "Metric", *(f"{_MEASURE_NAMES[m]} [{ci}]" for m in MEASURES)]
    prf_rows = [
        [name, TYPE_NAMES[t], *(_cell(s["aggregate"][t][m]) for m in MEASURES)]
        for name, s in systems.items()
        for t in ROUGE_TYPES
    ]
    all_notes = [*_auto_notes(systems), *notes]
    return "\n".join(
        [
            f"# {title}",
            "",
            markdown_table(f1_header, f1_rows, numeric_from=1),
            "",
            "## Precision / recall / F1",
            "",
            markdown_table(prf_header, prf_rows, numeric_from=2),
            "",
            "Notes:",
            "",
            *(f"- {n}" for n in all_notes),
            "",
        ]
    )


def rouge_table(results: dict[str, RougeResult], title: str) -> Table:
    """The F1 scores (x100, mean [CI]) of each system as a rich table for the terminal."""
    systems = {name: r.to_dict() for name, r in results.items()}
    ci = _ci_label(list(systems.values()))
    table = Table(title=title)
    table.add_column("System")
    table.add_column("N", justify="right")
    for t in ROUGE_TYPES:
        table.add_column(f"{TYPE_NAMES[t]} F1 [{ci}]", justify="right")
    for name, s in systems.items():
        table.add_row(name, str(s["n_examples"]), *f1_cells(s))
    return table


def write_rouge_report(
    directory: Path,
    split: str,
    results: dict[str, RougeResult],
    extra: dict,
    *,
    notes: Sequence[str] = (),
) -> tuple[Path, Path]:
    """Atomically write rouge_<split>.json and rouge_<split>.md into `directory`.

    The JSON is {"split", "systems": {name: RougeResult.to_dict()}, **extra}; `extra` keys
    are also listed as notes in the Markdown, after `notes`.
    """
    clash = {"split", "systems"} & extra.keys()
    if clash:
        raise ValueError(f"extra must not contain {sorted(clash)}")
    files = SplitReport(Path(directory), split)
    json_path, md_path = files.rouge_json, files.rouge_markdown
    atomic_write_json(
        json_path, {"split": split, "systems": {n: r.to_dict() for n, r in results.items()}, **extra}
    )
    extra_notes = [f"{key}: {value}" for key, value in extra.items()]
    atomic_write_text(md_path, rouge_markdown(results, f"ROUGE on {split}", [*notes, *extra_notes]))
    return json_path, md_path


def _compare_rows(reports: dict[str, dict]) -> tuple[str, list[list[str]]]:
    """CI label and rows (run, system, split, N, F1 cells) of loaded rouge_*.json dicts."""
    try:
        systems = [
            (run, name, str(r["split"]), s)
            for run, r in reports.items()
            for name, s in r["systems"].items()
        ]
        rows = [[run, name, split, str(s["n_examples"]), *f1_cells(s)] for run, name, split, s in systems]
        ci = _ci_label([s for *_, s in systems])
    except (KeyError, TypeError, AttributeError) as e:
        raise S2SAError(f"not a rouge report written by `s2sa eval` (missing {e})") from e
    if not rows:
        raise S2SAError("no ROUGE results to compare")
    return ci, rows


def _compare_header(ci: str) -> list[str]:
    """Column names of the comparison table."""
    return ["Run", "System", "Split", "N", *(f"{TYPE_NAMES[t]} F1 [{ci}]" for t in ROUGE_TYPES)]


def compare_markdown(reports: dict[str, dict]) -> str:
    """A Markdown table of F1 (x100, mean [CI]) per rouge type for several loaded reports."""
    ci, rows = _compare_rows(reports)
    return "\n".join(
        ["# ROUGE comparison", "", markdown_table(_compare_header(ci), rows, numeric_from=3), ""]
    )


def compare_table(reports: dict[str, dict]) -> Table:
    """The comparison of compare_markdown as a rich table."""
    ci, rows = _compare_rows(reports)
    table = Table(title="ROUGE comparison")
    for i, name in enumerate(_compare_header(ci)):
        table.add_column(name, justify="right" if i >= 3 else "left")
    for row in rows:
        table.add_row(*row)
    return table


def parameter_summary(groups: dict[str, dict[str, int | bool]]) -> dict:
    """run.json's `parameters`: per group its count, % of the model, whether it trains and how many of it
    train (all but the encoder's frozen marker rows); totals."""
    total = sum(int(g["count"]) for g in groups.values())
    trained = sum(int(g["trained_count"]) for g in groups.values())
    return {
        "groups": {
            name: {"count": g["count"], "percent": round(100 * int(g["count"]) / total, 4), "trained": g["trained"],
                   "trained_count": g["trained_count"]}
            for name, g in groups.items()
        },
        "trained": trained,
        "trained_percent": round(100 * trained / total, 4),
        "total": total,
    }


def trains(group: dict) -> str:
    """A group's `trains` cell: yes, no, or how many of it train (runs before `trained_count`: yes or no)."""
    part = group.get("trained_count", group["count"] if group["trained"] else 0)
    return "no" if not group["trained"] else "yes" if part == group["count"] else f"{part:,} of them"


def parameter_table(summary: dict) -> Table:
    """Parameters by group (adapter / head / cross-attention / base) with counts, percent and whether they train."""
    table = Table(title="Parameters")
    for name, justify in (("group", "left"), ("count", "right"), ("%", "right"), ("trains", "left")):
        table.add_column(name, justify=justify)
    for name, group in summary["groups"].items():
        table.add_row(name, f"{group['count']:,}", f"{group['percent']:.2f}", trains(group))
    table.add_row("[bold]trained", f"[bold]{summary['trained']:,}", f"[bold]{summary['trained_percent']:.2f}", "")
    return table


def _paired_cell(result: dict[str, float]) -> str:
    """A - B [95% CI] · the share of resamples where A is better; "same scores" where every example scores the same,
    which "0%" would misread as B always better. (Reports written before `same` was recorded show the share.)"""
    share = "same scores" if result.get("same") == 1 else f"{result['a_wins']:.0%}"
    return f"{result['difference']:+.2f} [{result['low']:+.2f}, {result['high']:+.2f}] · {share}"


def _paired_rows(comparisons: dict[str, dict[str, dict[str, float]]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows (pair, then per ROUGE type: A - B [95% CI], A better in x% of resamples)."""
    header = ["A - B", *(f"{TYPE_NAMES[t]} F1 diff [95% CI] · A better" for t in ROUGE_TYPES)]
    return header, [[pair, *(_paired_cell(s[t]) for t in ROUGE_TYPES)] for pair, s in comparisons.items()]


def paired_markdown(comparisons: dict[str, dict[str, dict[str, float]]]) -> str:
    """The paired bootstrap (compare.paired_comparisons) as a Markdown section."""
    header, rows = _paired_rows(comparisons)
    return "\n".join(["", "## Paired bootstrap over the shared examples", "", markdown_table(header, rows, numeric_from=1), ""])


def paired_table(comparisons: dict[str, dict[str, dict[str, float]]]) -> Table:
    """The paired bootstrap as a rich table."""
    header, rows = _paired_rows(comparisons)
    table = Table(title="Paired bootstrap over the shared examples (1000 resamples)")
    for i, name in enumerate(header):
        table.add_column(name, justify="right" if i else "left")
    for row in rows:
        table.add_row(*row)
    return table
