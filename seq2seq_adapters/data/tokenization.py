"""Tokenize normalized splits for training, cached on disk by content, tokenizer and lengths."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import datasets
from datasets import Dataset, DatasetDict

from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import check_cache_folder

DEFAULT_TOKENIZED_CACHE = Path("~/.cache/seq2seq_adapters/tokenized")


TOKENIZED_FORMAT = "labels-no-cls-v2"
"""Part of the tokenization cache key: change it when `_tokenize_batch` changes."""


def tokenize_splits(
    splits: DatasetDict,
    tokenizer: Any,
    max_source_length: int,
    max_target_length: int,
    cache_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> DatasetDict:
    """Add `input_ids`, `attention_mask` and `labels` (first reference, no [CLS], ends in [SEP]); no padding.

    Results are cached under `cache_dir` by dataset fingerprint, tokenizer and lengths, so a second
    run reads them back. `progress(n)` is called with the number of rows just done (all rows on a hit).
    """
    datasets.disable_progress_bars()
    end_id = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    if end_id is None:
        raise S2SAError(f"tokenizer {tokenizer.name_or_path} has neither a [SEP] nor an EOS token to end labels")
    cache_dir = (cache_dir or DEFAULT_TOKENIZED_CACHE).expanduser()
    check_cache_folder(cache_dir, "it is ~/.cache/seq2seq_adapters/tokenized: make it writable, or set HOME to a folder you can write")
    tokenize = partial(
        _tokenize_batch,
        tokenizer=tokenizer,
        max_source_length=max_source_length,
        max_target_length=max_target_length,
        end_id=end_id,
        progress=progress,
    )
    tokenized = {}
    for split, dataset in splits.items():
        key = _tokenized_key(dataset, tokenizer, max_source_length, max_target_length)
        cache_file = cache_dir / f"{split}-{key}.arrow"
        hit = cache_file.exists()
        tokenized[split] = dataset.map(tokenize, batched=True, cache_file_name=str(cache_file), new_fingerprint=key)
        if hit and progress is not None:
            progress(len(dataset))
    return DatasetDict(tokenized)


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """A hash of everything that decides a tokenizer's ids: a fast tokenizer's whole definition (normalizer,
    pre-tokenizer, vocabulary, added tokens such as `--marker-tokens` with their ids), else its vocabulary with
    ids. Its name and size are not enough: the same markers added in another order swap their ids."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        definition = sorted(tokenizer.get_vocab().items())
    else:  # truncation and padding are the last call's settings, not the tokenizer's: left out
        definition = {k: v for k, v in json.loads(backend.to_str()).items() if k not in ("truncation", "padding")}
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()[:16]


def _tokenized_key(dataset: Dataset, tokenizer: Any, max_source_length: int, max_target_length: int) -> str:
    """Cache key: data fingerprint (content and the columns chosen), the tokenizer's class and whole
    definition, lengths, output format."""
    parts = [
        dataset._fingerprint,
        type(tokenizer).__name__,
        tokenizer_fingerprint(tokenizer),
        str(max_source_length),
        str(max_target_length),
        TOKENIZED_FORMAT,
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def _tokenize_batch(
    batch: dict[str, list[Any]],
    tokenizer: Any,
    max_source_length: int,
    max_target_length: int,
    end_id: int,
    progress: Callable[[int], None] | None,
) -> dict[str, list[Any]]:
    """Sources with special tokens (no token_type_ids); labels = first reference + [SEP]."""
    sources = tokenizer(
        batch["document"], max_length=max_source_length, truncation=True, return_token_type_ids=False
    )
    targets = tokenizer(
        [references[0] for references in batch["references"]],
        add_special_tokens=False,
        max_length=max_target_length - 1,
        truncation=True,
        return_attention_mask=False,
        return_token_type_ids=False,
    )
    if progress is not None:
        progress(len(batch["document"]))
    return {
        "input_ids": sources["input_ids"],
        "attention_mask": sources["attention_mask"],
        "labels": [ids + [end_id] for ids in targets["input_ids"]],
    }
