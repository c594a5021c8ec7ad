"""Summaries people can read: markers of the source (`#Person1#`) restored as written, casing noted.

An uncased WordPiece tokenizer splits `#Person1#` into `#`, `person`, `##1`, `#`, so a decoded summary
says `# person1 #`. The marker's characters survive (lowercased, perhaps spaced), so each marker of the
source document is found again by a pattern over its characters and written back exactly. WordPiece
decoding joins `. , ? !` to the word before; the spaces it leaves around apostrophes, numbers and other
punctuation are removed here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from seq2seq_adapters.config.value_rules import MARKER

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def source_markers(document: str) -> list[str]:
    """The distinct markers of a document, in order of first appearance."""
    return list(dict.fromkeys(MARKER.findall(document)))


def marker_pattern(marker: str) -> re.Pattern[str]:
    """Any casing and spacing of the marker's characters, as an uncased tokenizer decodes them."""
    return re.compile(r"\s*".join(re.escape(ch) for ch in marker), re.IGNORECASE)


def restore_markers(summary: str, markers: Iterable[str]) -> str:
    """The summary with every decoded form of each marker written as in the source."""
    for marker in sorted(markers, key=len, reverse=True):  # #Person10# before #Person1#
        summary = marker_pattern(marker).sub(marker, summary)
    return summary


SPLIT_NUMBER = re.compile(r"(?<=\d) ?(?:([.:]) (?=\d)|(,) (?=\d{3}(?!\d)))")
"""`3. 5`, `7 : 30`, `1, 000`: numbers WordPiece split at their punctuation (transformers' clean-up leaves
them); a comma joins only a thousands group, so a list such as `2, 3` stays."""


SPACED_PUNCTUATION = re.compile(r" (?=[;:%)\]])|(?<=[(\[$]) ")
"""The spaces WordPiece decoding leaves before `; : % ) ]` and after `( [ $` (it joins `. , ? !` itself)."""

CONTRACTION = re.compile(r" ' (?=(?:s|t|m|d|ll|ve|re)\b)")
"""`he ' s`, `doesn ' t`, `i ' m`: an apostrophe between a word and a contraction's ending."""
APOSTROPHE = re.compile(r" ' ")
"""Any other spaced apostrophe ends a word: `the stadium ' volume` -> `the stadium' volume`.
(transformers' `clean_up_tokenization` joins both sides, `stadium'volume`, so it is not used.)"""


def join_numbers(summary: str) -> str:
    """`3.5`, `7:30`, `1,000` written back without the spaces decoding put in."""
    return SPLIT_NUMBER.sub(lambda match: match.group(1) or match.group(2), summary)


TAG = re.compile(r"#\s*([A-Za-z][A-Za-z0-9_]*)\s*#")
"""A marker as decoding may leave it: `# person3 #`."""


def close_tags(summary: str) -> str:
    """Markers the source does not have, written as markers: `# person3 #` -> `#Person3#`.

    A model can name a speaker the dialogue lacks (DialogSum's summaries know up to #Person7#). There is
    no source spelling to copy, so a lowercase (uncased) marker gets DialogSum's capital first letter;
    other casing is kept."""
    return TAG.sub(lambda match: "#" + (match[1][0].upper() + match[1][1:] if match[1].islower() else match[1]) + "#", summary)


def readable(summary: str, document: str) -> str:
    """A decoded summary with apostrophes, numbers and punctuation unspaced and the document's markers restored."""
    summary = APOSTROPHE.sub("' ", CONTRACTION.sub("'", summary))
    return close_tags(restore_markers(SPACED_PUNCTUATION.sub("", join_numbers(summary)), source_markers(document)))


def decode_summaries(tokenizer: PreTrainedTokenizerBase, ids, documents: Sequence[str]) -> list[str]:
    """Generated token ids (one row per document) as readable summaries."""
    texts = tokenizer.batch_decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
    return [readable(text.strip(), document) for text, document in zip(texts, documents)]


def is_uncased(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Whether the tokenizer lowercases its input (then summaries come out lowercase)."""
    return tokenizer.tokenize("A") == tokenizer.tokenize("a")


UNCASED_NOTE = (
    "The tokenizer is uncased: summaries are lowercase, except markers of the source (such as #Person1#), "
    "which are restored as written."
)
