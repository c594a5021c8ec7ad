"""Surface text on real DialogSum summaries: broken speaker tags and ROUGE, before and after `surface.readable`.

    python scripts/bench_surface.py [--data ../shared/data/dialogsum] [--samples 200]

Each test dialogue's first reference goes through what a generated summary goes through: the uncased
tokenizer's ids, then decoding. "before" is the old decoding (plain `batch_decode`), "after" is s2sa's
(clean-up of spacing, numbers joined, the dialogue's markers restored). ROUGE scores both against all
three references, as `s2sa eval` does. This measures the decoding path on real text, not a model's
summaries (it is what a model that wrote the reference token by token would get).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from transformers import AutoTokenizer

from seq2seq_adapters.config import DEFAULT_CHECKPOINT
from seq2seq_adapters.metrics import compute_rouge
from seq2seq_adapters.modeling import resolve_checkpoint
from seq2seq_adapters.surface import decode_summaries, marker_pattern, source_markers

ROOT = Path(__file__).resolve().parents[1]


def broken_tags(summary: str, dialogue: str) -> int:
    """Occurrences of a dialogue marker written otherwise than in the dialogue (`# person1 #`)."""
    return sum(match.group() != marker for marker in source_markers(dialogue) for match in marker_pattern(marker).finditer(summary))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "dialogsum")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--examples", type=int, default=10)
    args = parser.parse_args()
    rows = [json.loads(line) for line in (args.data / "test.jsonl").read_text().splitlines()[: args.samples]]
    tokenizer = AutoTokenizer.from_pretrained(resolve_checkpoint(DEFAULT_CHECKPOINT))
    ids = tokenizer([row["summary1"] for row in rows]).input_ids
    before = [text.strip() for text in tokenizer.batch_decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)]
    after = decode_summaries(tokenizer, ids, [row["dialogue"] for row in rows])
    references = [[row[f"summary{k}"] for k in (1, 2, 3)] for row in rows]
    print(f"{len(rows)} DialogSum test dialogues, first reference through the uncased MiniLM tokenizer\n")
    print("| decoding | summaries with a broken tag | broken tags | ROUGE-1 | ROUGE-2 | ROUGE-L | ROUGE-Lsum |")
    print("| --- | ---: | ---: | --- | --- | --- | --- |")
    for name, texts in (("before", before), ("after", after)):
        counts = [broken_tags(text, row["dialogue"]) for text, row in zip(texts, rows)]
        result = compute_rouge(texts, references)
        cells = [f"{100 * result.aggregate[k]['fmeasure']['mean']:.2f} [{100 * result.aggregate[k]['fmeasure']['low']:.2f}, "
                 f"{100 * result.aggregate[k]['fmeasure']['high']:.2f}]" for k in ("rouge1", "rouge2", "rougeL", "rougeLsum")]
        print(f"| {name} | {sum(c > 0 for c in counts)} | {sum(counts)} | " + " | ".join(cells) + " |")
    print("\n| before | after |\n| --- | --- |")
    for text_before, text_after in list(zip(before, after))[: args.examples]:
        print(f"| {text_before} | {text_after} |")


if __name__ == "__main__":
    main()
