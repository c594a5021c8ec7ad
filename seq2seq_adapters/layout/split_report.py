"""The files one scored split leaves in a folder (a run folder, for its final validation summaries, or an eval
folder): `rouge_<split>.json`, `rouge_<split>.md` and `predictions_<split>.jsonl`, named here once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SplitReport:
    """Where the report of `split` lies in `folder`."""

    folder: Path
    split: str

    @property
    def rouge_json(self) -> Path:
        """Scores, per-example scores and settings: what `s2sa eval --compare` reads."""
        return self.folder / f"rouge_{self.split}.json"

    @property
    def rouge_markdown(self) -> Path:
        return self.folder / f"rouge_{self.split}.md"

    @property
    def predictions(self) -> Path:
        """One JSON line per example: id, document, references, prediction, its ROUGE (the paired bootstrap's input)."""
        return self.folder / f"predictions_{self.split}.jsonl"
