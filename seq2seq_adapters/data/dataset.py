"""Load document/summary pairs (ACLSum, local files or the Hub) as normalized, carved and cut splits.

Reading is data_files.py, column choice and row checks columns.py, tokenization (cached) tokenized.py.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import datasets
from datasets import Dataset, DatasetDict

from seq2seq_adapters.config.schema import DataArgs
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.data.columns import normalize, pick_columns
from seq2seq_adapters.data.sources import ACLSUM_ASPECTS, SPLIT_ORDER, load_aclsum, load_raw, quiet_datasets


@dataclass
class SummarizationData:
    """Normalized splits (`id`, `document`, `references`) plus where they came from."""

    splits: DatasetDict
    text_column: str
    summary_column: str
    source: str
    fingerprint: str
    skipped: dict[str, int]
    license: str | None
    validation_carved: bool


def load_summarization_data(args: DataArgs, seed: int, *, carve_validation: bool = True) -> SummarizationData:
    """Load, normalize, carve a validation split if needed and cut to the requested sizes.

    `carve_validation=False` keeps a lone train split whole (`s2sa eval --data FILE` scores every row).
    """
    datasets.disable_progress_bars()
    with quiet_datasets():
        if args.data is None:
            if args.text_column or args.summary_column:
                raise S2SAError("--text-column/--summary-column only apply with --data; the default ACLSum data has fixed fields")
            raw, source, license_ = load_aclsum(), "ACLSum (aclsum package)", "MIT (ACLSum)"
        else:
            raw, source, license_ = load_raw(args.data)
        splits, text_used, summary_used, skipped = {}, {}, {}, {}
        for split, part in raw.items():
            text, summaries = pick_columns(part, args.text_column, args.summary_column)
            splits[split], skipped[split] = normalize(part, split, text, summaries, args.on_bad_rows)
            text_used[split], summary_used[split] = text, ",".join(summaries)
        carved = carve_validation and "train" in splits and "validation" not in splits
        if carved:
            splits.update(_carve_validation(splits["train"], args.validation_ratio, seed))
        splits = _limit(splits, args.max_train_samples, args.max_eval_samples)
    if args.data is None:
        text_used = {"all": "abstract+introduction+conclusion"}
        summary_used = {"all": "+".join(ACLSUM_ASPECTS)}
    ordered = DatasetDict({name: splits[name] for name in SPLIT_ORDER if name in splits})
    return SummarizationData(
        splits=ordered,
        text_column=_describe(text_used),
        summary_column=_describe(summary_used),
        source=source,
        fingerprint=_fingerprint(ordered),
        skipped=skipped,
        license=license_,
        validation_carved=carved,
    )


def _carve_validation(train: Dataset, ratio: float, seed: int) -> dict[str, Dataset]:
    """Split a seeded `ratio` of train off as validation."""
    try:
        parts = train.train_test_split(test_size=ratio, seed=seed)
    except ValueError as exc:
        raise S2SAError(
            f"cannot carve a validation split ({ratio:g} of {len(train)} training rows); add rows or provide a validation file"
        ) from exc
    return {"train": parts["train"], "validation": parts["test"]}


def _limit(splits: dict[str, Dataset], max_train: int | None, max_eval: int | None) -> dict[str, Dataset]:
    """Keep the first N rows of train (max_train) and of validation/test (max_eval)."""
    limited = {}
    for split, dataset in splits.items():
        cap = max_train if split == "train" else max_eval
        limited[split] = dataset.select(range(min(cap, len(dataset)))) if cap is not None else dataset
    return limited


def _describe(per_split: dict[str, str]) -> str:
    """One name when every split used the same columns, else `split: columns; ...`."""
    values = set(per_split.values())
    if len(values) == 1:
        return values.pop()
    return "; ".join(f"{split}: {value}" for split, value in per_split.items())


def content_fingerprint(examples: Dataset) -> str:
    """A hash of the examples' own values (ids, documents, references): the same examples give the same
    hash whatever code or cache produced them. datasets' fingerprints also hash the transform functions,
    so with them any change to s2sa's code made two evaluations of one file look like different data."""
    digest = hashlib.sha256()
    for column in sorted(examples.column_names):
        digest.update(json.dumps([column, examples[column]], ensure_ascii=False, default=str).encode())
    return digest.hexdigest()[:16]


def _fingerprint(splits: DatasetDict) -> str:
    """A stable hash of the final splits, from datasets' content/transform fingerprints."""
    joined = ";".join(f"{split}={dataset._fingerprint}" for split, dataset in splits.items())
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


