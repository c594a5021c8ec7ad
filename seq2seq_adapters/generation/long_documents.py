"""Documents longer than the encoder's source limit: say how many and by how much, or summarise them in
overlapping windows (`--long-documents chunk`) instead of cutting them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from seq2seq_adapters.config.schema import GenerationArgs
from seq2seq_adapters.core.errors import S2SAError

if TYPE_CHECKING:  # light to import: `summarize` checks --long-documents before torch loads
    from transformers import EncoderDecoderModel, PreTrainedTokenizerBase

LONG_DOCUMENT_MODES = ("truncate", "chunk")


def check_long_documents(mode: str) -> None:
    """Refuse a `--long-documents` value other than LONG_DOCUMENT_MODES, before any model loads."""
    if mode not in LONG_DOCUMENT_MODES:
        raise S2SAError(f"--long-documents must be {' or '.join(LONG_DOCUMENT_MODES)}, got {mode!r}")

WINDOW_OVERLAP = 64
"""Tokens each window repeats of the one before, so no sentence is only ever seen cut in half."""


@dataclass
class Overflow:
    """How many documents exceed the source limit, and by how many tokens."""

    documents: int
    over_limit: int
    limit: int
    longest_tokens: int
    tokens_cut: int

    def describe(self, cut: bool = True) -> str:
        """One line for the console and reports; `cut=False` where the documents are not cut (chunk mode may follow)."""
        if not self.over_limit:
            return f"all {self.documents} documents fit the {self.limit}-token source limit"
        return (
            f"{self.over_limit} of {self.documents} documents exceed the {self.limit}-token source limit{' and are cut' if cut else ''} "
            f"(longest {self.longest_tokens:,} tokens; {self.tokens_cut:,} tokens cut in all)"
        )

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def token_lengths(tokenizer: PreTrainedTokenizerBase, documents: Sequence[str]) -> list[int]:
    """Each document's length in tokens, special tokens included, uncut."""
    return [len(ids) for ids in tokenizer(list(documents), return_token_type_ids=False, verbose=False)["input_ids"]]


def measure_overflow(tokenizer: PreTrainedTokenizerBase, documents: Sequence[str], limit: int) -> Overflow:
    """Count the documents the encoder would see cut at `limit` tokens."""
    lengths = token_lengths(tokenizer, documents)
    over = [n for n in lengths if n > limit]
    return Overflow(len(lengths), len(over), limit, max(lengths, default=0), sum(n - limit for n in over))


def windows(tokenizer: PreTrainedTokenizerBase, document: str, limit: int, overlap: int = WINDOW_OVERLAP) -> list[str]:
    """The document as pieces of whole words that each fit `limit` tokens, each repeating about `overlap`
    tokens of the one before (at most a quarter of the window). Pieces are the document's own text, so casing and markers survive."""
    words = document.split()
    counts = [len(ids) for ids in tokenizer(words, add_special_tokens=False, verbose=False)["input_ids"]]
    budget = limit - tokenizer.num_special_tokens_to_add()
    overlap = min(overlap, budget // 4)  # each window moves on by 3/4 of its budget at least: 48-token sources
    # with the 64-token overlap moved on by one word, and a 100k-token document did not finish in 5 minutes
    pieces: list[str] = []
    start = 0
    while start < len(words):
        end, used = start, 0
        while end < len(words) and used + counts[end] <= budget:
            used += counts[end]
            end += 1
        end = max(end, start + 1)  # a single word over the budget goes alone (and is cut)
        pieces.append(" ".join(words[start:end]))
        if end == len(words):
            break
        back, repeated = end, 0
        while back > start + 1 and repeated + counts[back - 1] <= overlap:
            back -= 1
            repeated += counts[back]
        start = back
    return pieces


def in_documents(on_batch: Callable[[int], None], documents: int, summaries: int) -> Callable[[int], None]:
    """Progress in documents for work counted in generated summaries (every window, then every joined set of
    window summaries): callers count documents, and windows counted as documents ran past 100%."""
    done = reported = 0

    def advance(n: int) -> None:
        nonlocal done, reported
        done += n
        if (now := documents * done // summaries) > reported:
            on_batch(now - reported)
            reported = now

    return advance


def chunked_summaries(
    model: EncoderDecoderModel,
    tokenizer: PreTrainedTokenizerBase,
    documents: Sequence[str],
    gen: GenerationArgs,
    limit: int,
    on_batch: Callable[[int], None] | None = None,
) -> list[str]:
    """Summaries in input order; a document over `limit` tokens is summarised window by window, then the
    joined window summaries are summarised once more (map-reduce). Documents that fit go through as they are."""
    from seq2seq_adapters.generation.decoding import generate_summaries
    lengths = token_lengths(tokenizer, documents)
    pieces: list[str] = []
    owners: list[int] = []
    for index, (document, length) in enumerate(zip(documents, lengths)):
        parts = windows(tokenizer, document, limit) if length > limit else [document]
        pieces += parts
        owners += [index] * len(parts)
    long = [index for index, length in enumerate(lengths) if length > limit]
    advance = in_documents(on_batch, len(documents), len(pieces) + len(long)) if on_batch else None
    first = generate_summaries(model, tokenizer, pieces, gen, limit, on_batch=advance)
    joined = [" ".join(s for s, owner in zip(first, owners) if owner == index) for index in long]
    second = dict(zip(long, generate_summaries(model, tokenizer, joined, gen, limit, on_batch=advance)))
    return [second.get(index, first[owners.index(index)]) for index in range(len(documents))]
