"""Surface text on real summaries: broken speaker tags, broken hyphens and ROUGE, before and after
`surface_text.readable`.

    python scripts/bench_surface.py [--data ../shared/data/dialogsum] [--samples 200]
    python scripts/bench_surface.py --data bundled          # the bundled ACLSum papers
    python scripts/bench_surface.py --predictions RUN/eval-test/predictions_test.jsonl

Without --predictions, each test document's first reference goes through what a generated summary goes
through: the uncased tokenizer's ids, then decoding (what a model that wrote the reference token by
token would get). With --predictions (written by `s2sa eval`), a trained model's own summaries are
measured: their tokens (the summary through the tokenizer) decoded plainly. "before" is that plain
`batch_decode`, "after" is s2sa's surface step on it (`surface.readable`: spacing cleaned up, numbers
joined, the dialogue's markers restored, other markers closed up). ROUGE scores both against all
references, as `s2sa eval` does.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from transformers import AutoTokenizer

from seq2seq_adapters.config.schema import DataArgs
from seq2seq_adapters.config.value_rules import DEFAULT_CHECKPOINT
from seq2seq_adapters.data.dataset import load_summarization_data
from seq2seq_adapters.evaluation.rouge import compute_rouge
from seq2seq_adapters.generation.surface_text import (
    SPACED_HYPHEN,
    TAG,
    WORD_AFTER,
    WORD_BEFORE,
    readable,
    source_markers,
)
from seq2seq_adapters.model.builder import resolve_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def broken_tags(summary: str, dialogue: str) -> int:
    """Markers written otherwise than a marker is written: spaced (`# person1 #`), or in another casing
    than the dialogue's own (`#person1#`)."""
    written = {marker.lower(): marker for marker in source_markers(dialogue)}
    broken = 0
    for match in TAG.finditer(summary):
        text = match.group()
        expected = written.get(re.sub(r"\s", "", text).lower())
        broken += bool(re.search(r"\s", text)) or (expected is not None and text != expected)
    return broken


def broken_hyphens(summary: str, document: str) -> int:
    """Hyphens spaced between two words (`multi - task`) where the document does not space that dash."""
    broken = 0
    for match in SPACED_HYPHEN.finditer(summary):
        before, after = WORD_BEFORE.search(summary, 0, match.start()), WORD_AFTER.search(summary[match.end():])
        broken += f"{before[0]} - {after[0]}".lower() not in document.lower()
    return broken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "dialogsum"),
                        help="any `s2sa --data` value; `bundled` for the bundled ACLSum")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--examples", type=int, default=10)
    parser.add_argument("--predictions", type=Path, help="predictions_<split>.jsonl of `s2sa eval`: measure a model's own summaries")
    args = parser.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(resolve_checkpoint(DEFAULT_CHECKPOINT))
    if args.predictions:
        records = [json.loads(line) for line in args.predictions.read_text().splitlines()[: args.samples]]
        documents, references = [r["document"] for r in records], [r["references"] for r in records]
        ids = tokenizer([r["prediction"] for r in records]).input_ids
        print(f"{len(records)} summaries of {args.predictions}\n")
    else:
        data = DataArgs(data=None if args.data == "bundled" else args.data, max_eval_samples=args.samples)
        test = load_summarization_data(data, seed=0).splits["test"]
        documents, references = list(test["document"]), list(test["references"])
        ids = tokenizer([refs[0] for refs in references]).input_ids
        print(f"{len(documents)} test documents of {args.data}, first reference through the uncased MiniLM tokenizer\n")
    before = [text.strip() for text in tokenizer.batch_decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)]
    after = [readable(text, document) for text, document in zip(before, documents)]  # what decode_summaries does
    print("| decoding | summaries with a broken tag | broken tags | broken hyphens | ROUGE-1 | ROUGE-2 | ROUGE-L | ROUGE-Lsum |")
    print("| --- | ---: | ---: | ---: | --- | --- | --- | --- |")
    for name, texts in (("before", before), ("after", after)):
        counts = [broken_tags(text, document) for text, document in zip(texts, documents)]
        hyphens = sum(broken_hyphens(text, document) for text, document in zip(texts, documents))
        result = compute_rouge(texts, references)
        cells = [f"{100 * result.aggregate[k]['fmeasure']['mean']:.2f} [{100 * result.aggregate[k]['fmeasure']['low']:.2f}, "
                 f"{100 * result.aggregate[k]['fmeasure']['high']:.2f}]" for k in ("rouge1", "rouge2", "rougeL", "rougeLsum")]
        print(f"| {name} | {sum(c > 0 for c in counts)} | {sum(counts)} | {hyphens} | " + " | ".join(cells) + " |")
    print("\n| before | after |\n| --- | --- |")
    for text_before, text_after in list(zip(before, after))[: args.examples]:
        print(f"| {text_before} | {text_after} |")


if __name__ == "__main__":
    main()
