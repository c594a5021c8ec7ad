"""Rescore the data-only Lead-k baselines that the docs report, with the current sentence splitter.

    python scripts/rescore_baselines.py [--data-root ../shared/data]

The docs' model rows cannot be rescored (their predictions are gone), but their Lead-k rows need only
the data: Lead-k on the first 200 DialogSum test dialogues against all three references
(docs/results*.md) and on the first 100 DialogSum validation dialogues (docs/studies/dialogsum-300-steps-seq-bn.md,
README), both with k = 1 as the docs have it. Lead-k's k is the mean sentence count of the first
references, so it moves with the splitter; the k that `s2sa eval` picks now is printed too.
ROUGE F1 x100, mean [95% bootstrap CI], as s2sa's reports show it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seq2seq_adapters.config.schema import DataArgs  # noqa: E402
from seq2seq_adapters.data.dataset import load_summarization_data  # noqa: E402
from seq2seq_adapters.evaluation.reports import f1_cells  # noqa: E402
from seq2seq_adapters.evaluation.rouge import ROUGE_TYPES, choose_lead_k, compute_rouge, lead_k  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args(argv)
    splits = load_summarization_data(DataArgs(data=str(args.data_root / "dialogsum")), seed=0).splits
    print("| baseline | " + " | ".join(ROUGE_TYPES) + " |")
    for split, n in (("test", 200), ("validation", 100)):
        rows = splits[split].select(range(n))
        references = rows["references"]
        # k = 1 is what the docs show; choose_lead_k is what `s2sa eval` picks with this splitter.
        for k in dict.fromkeys((1, choose_lead_k(references))):
            result = compute_rouge([lead_k(d, k) for d in rows["document"]], references)
            print(f"| Lead-{k}, first {n} DialogSum {split} | " + " | ".join(f1_cells(result.to_dict())) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
