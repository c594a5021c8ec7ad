"""Summaries people can read: markers of the source (`#Person1#`) restored as written, casing noted.

An uncased WordPiece tokenizer splits `#Person1#` into `#`, `person`, `##1`, `#`, so a decoded summary
says `# person1 #`. The marker's characters survive (lowercased, perhaps spaced), so each marker of the
source document is found again by a pattern over its characters and written back exactly. WordPiece
decoding joins `. , ? !` to the word before; the spaces it leaves around apostrophes, numbers, hyphens and
other punctuation are removed here. Words that the source writes with inner punctuation
(`state-of-the-art`, `o'clock`, `U.S.`, `and/or`) are closed up as the source writes them, and a hyphen
between two words is closed up unless the source spaces that very dash (`before - after`).
"""

from __future__ import annotations

import functools
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


COMPOUND = re.compile(r"[^\W_]+(?:[-'/.&][^\W_]+)+")
"""A word with inner punctuation as a source writes it: `state-of-the-art`, `o'clock`, `U.S`, `and/or`."""
SPACED_HYPHEN = re.compile(r"(?<=[^\W_]) - (?=[^\W_])")
"""A hyphen between two words as WordPiece decoding leaves it: `multi - task`."""
WORD_BEFORE, WORD_AFTER = re.compile(r"[^\W_]+$"), re.compile(r"^[^\W_]+")


@functools.lru_cache(maxsize=4096)
def spaced_pattern(compound: str) -> re.Pattern[str]:
    """Any casing of a compound with any spacing around its inner punctuation, as an uncased tokenizer decodes it."""
    parts = re.split(r"([-'/.&])", compound)
    body = "".join(re.escape(part) if index % 2 == 0 else rf"\s*{re.escape(part)}\s*" for index, part in enumerate(parts))
    return re.compile(rf"(?<![^\W_]){body}(?![^\W_])", re.IGNORECASE)


def join_compounds(summary: str, document: str) -> str:
    """Words with inner punctuation closed up: those the source writes so, then any hyphen between two words
    unless the source spaces that dash between the same two words."""
    for compound in sorted(set(COMPOUND.findall(document)), key=len, reverse=True):
        summary = spaced_pattern(compound).sub(lambda match: re.sub(r"\s+", "", match[0]), summary)
    lowered = document.lower()

    def hyphen(match: re.Match[str]) -> str:
        before = WORD_BEFORE.search(summary, 0, match.start())
        after = WORD_AFTER.search(summary[match.end():])
        spaced = f"{before[0]} - {after[0]}".lower() if before and after else ""
        return match[0] if spaced and spaced in lowered else "-"

    return SPACED_HYPHEN.sub(hyphen, summary)


def readable(summary: str, document: str) -> str:
    """A decoded summary with apostrophes, numbers, hyphens and punctuation unspaced and the document's markers
    restored."""
    summary = join_compounds(summary, document)
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
