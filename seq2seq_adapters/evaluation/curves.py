"""curves.png: training loss, learning rate, validation loss and ROUGE against steps, read from metrics.jsonl;
one run (written at the end of `s2sa train`) or several overlaid (`s2sa eval --compare ... --plot`)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from seq2seq_adapters.core.files import atomic_write_bytes
from seq2seq_adapters.layout.run_folder import RunDir

PANELS: dict[str, dict[str, str]] = {
    "loss": {"loss": "training loss", "eval_loss": "validation loss"},
    "learning rate": {"learning_rate": "learning rate"},
    "validation ROUGE F1 x100": {f"eval_{kind}": kind for kind in ("rouge1", "rouge2", "rougeL", "rougeLsum")},
}
"""Panel title -> {metrics.jsonl key: series name}."""


def read_series(metrics: Path) -> dict[str, tuple[list[int], list[float]]]:
    """metrics.jsonl key -> (steps, values) for the keys the panels draw (lines cut short by a kill are skipped)."""
    wanted = {key for series in PANELS.values() for key in series}
    series: dict[str, tuple[list[int], list[float]]] = {}
    for line in metrics.read_text(encoding="utf-8").splitlines() if metrics.is_file() else []:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        for key in wanted & record.keys():
            steps, values = series.setdefault(key, ([], []))
            steps.append(int(record["step"]))
            values.append(float(record[key]))
    return series


def plot_curves(runs: dict[str, Path], output: Path) -> list[str]:
    """Draw the runs' metrics.jsonl (label -> path) into `output` (PNG); returns the series drawn, as `panel: name`.

    matplotlib is imported here, not at the top: it adds about a second to every command's start-up."""
    import matplotlib

    matplotlib.use("Agg")  # no display: runs on servers and in batch jobs
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(PANELS), figsize=(5 * len(PANELS), 4), constrained_layout=True)
    drawn = []
    for axis, (title, keys) in zip(axes, PANELS.items()):
        for label, metrics in runs.items():
            series = read_series(metrics)
            for key, name in keys.items():
                if key in series:
                    axis.plot(*series[key], marker="o" if key.startswith("eval_") else None, markersize=3,
                              label=name if len(runs) == 1 else f"{label}: {name}")
                    drawn.append(f"{title}: {name}")
        axis.set_title(title)
        axis.set_xlabel("step")
        if axis.lines:
            axis.legend(fontsize="small")
    image = io.BytesIO()
    figure.savefig(image, format="png", dpi=100)
    plt.close(figure)
    atomic_write_bytes(output, image.getvalue())  # the one writer: a regular file, whole or not at all
    return drawn


def write_run_curves(run: RunDir) -> list[str]:
    """curves.png of a finished run; returns the note that links it from rouge_validation.md."""
    plot_curves({run.root.name: run.metrics}, run.curves)
    return [f"Training curves: [{run.curves.name}]({run.curves.name})"]
