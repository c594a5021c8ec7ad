"""Real texts for the Punkt parity test, and the recorder of real nltk Punkt's output on them.

    python tests/punkt_parity.py --nltk-data DIR     # rewrites tests/data/punkt_parity.json

nltk.sent_tokenize needs nltk's punkt_tab model, which CI cannot download, so its output is recorded
once here: DIR is an nltk data folder holding tokenizers/punkt_tab/ (scripts/bench_sentence_split.py
says where to get one offline). Only SHA-256 digests and counts are stored, never the texts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

from nltk.tokenize.punkt import PunktParameters

ROOT = Path(__file__).resolve().parents[1]
RECORD = Path(__file__).parent / "data" / "punkt_parity.json"
Example = tuple[str, list[str]]  # (prediction, references)


def parity_examples(data_root: Path) -> dict[str, list[Example]]:
    """DialogSum test and all of ACLSum as s2sa loads them, each with a stand-in prediction.

    The prediction is the first three lines of the document lowercased: a Lead-3 summary as an
    uncased model writes it (no capital letters is what broke the old splitter).
    """
    from seq2seq_adapters.config.schema import DataArgs
    from seq2seq_adapters.data.dataset import load_summarization_data

    sources = {"dialogsum_test": (DataArgs(data=str(data_root / "dialogsum")), ["test"]),
               "aclsum": (DataArgs(), ["train", "validation", "test"])}
    examples: dict[str, list[Example]] = {}
    for name, (args, splits) in sources.items():
        loaded = load_summarization_data(args, seed=0, carve_validation=False).splits
        examples[name] = [
            ("\n".join(row["document"].splitlines()[:3]).lower(), row["references"])
            for split in splits
            for row in loaded[split]
        ]
    return examples


def parity_texts(examples: dict[str, list[Example]]) -> dict[str, list[str]]:
    """The texts whose sentence lists are compared: references, uncased references, predictions."""
    texts: dict[str, list[str]] = {}
    for name, pairs in examples.items():
        references = [r for _, refs in pairs for r in refs]
        texts[f"{name} references"] = references
        texts[f"{name} references, uncased"] = [r.lower() for r in references]
        texts[f"{name} predictions"] = [prediction for prediction, _ in pairs]
    return texts


def digest_sentences(texts: list[str], split: Callable[[str], list[str]]) -> dict[str, int | str]:
    """Count of texts and sentences, and one SHA-256 over every text's sentence list."""
    lists = [split(text) for text in texts]
    blob = json.dumps(lists, ensure_ascii=False).encode()
    return {"texts": len(lists), "sentences": sum(map(len, lists)), "sha256": hashlib.sha256(blob).hexdigest()}


def digest_parameters(params: PunktParameters) -> str:
    """SHA-256 of a Punkt model's abbreviations, collocations, sentence starters and orthographic context."""
    model = [
        sorted(params.abbrev_types),
        sorted(params.collocations),
        sorted(params.sent_starters),
        sorted((word, flags) for word, flags in params.ortho_context.items() if flags),
    ]
    return hashlib.sha256(json.dumps(model).encode()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    import nltk
    from conftest import SHARED_DATA
    from nltk.tokenize.punkt import load_punkt_params

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nltk-data", type=Path, required=True, help="nltk data folder with tokenizers/punkt_tab/")
    parser.add_argument("--source", help="where that punkt_tab copy came from, for the record (default: the folder)")
    args = parser.parse_args(argv)
    nltk.data.path.insert(0, str(args.nltk_data))
    if not nltk.tokenize.punkt_model_available("english"):
        parser.error(f"no tokenizers/punkt_tab/english/ under {args.nltk_data}")
    texts = parity_texts(parity_examples(SHARED_DATA))
    record = {
        "reference": f"nltk {nltk.__version__} sent_tokenize, punkt_tab English from {args.source or args.nltk_data}",
        "punkt_tab_english_sha256": digest_parameters(load_punkt_params(nltk.data.find("tokenizers/punkt_tab/english/"))),
        "sentence_lists": {name: digest_sentences(t, nltk.sent_tokenize) for name, t in texts.items()},
    }
    RECORD.parent.mkdir(exist_ok=True)
    RECORD.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RECORD}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
