"""Load document/summary pairs (ACLSum, local files or the Hub) and tokenize them for BERT2BERT training."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aclsum
import datasets
import huggingface_hub
import pyarrow.parquet as pq
from datasets import Dataset, DatasetDict

from .config import DataArgs
from .errors import S2SAError

BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
"""Supported local file extensions and the `datasets` builder that reads each."""
SUPPORTED = ", ".join(BUILDERS)
SPLIT_NAMES = {"train": "train", "validation": "validation", "dev": "validation", "val": "validation", "test": "test"}
"""File stems / hub split names and the split they stand for."""
SPLIT_ORDER = ("train", "validation", "test")
TEXT_CANDIDATES = ("document", "article", "dialogue", "text", "source")
SUMMARY_CANDIDATES = ("summary", "highlights", "target", "abstract")
ID_CANDIDATES = ("id", "fname", "paper_id", "doc_id")
ACLSUM_ASPECTS = ("challenge", "approach", "outcome")
DEFAULT_TOKENIZED_CACHE = Path("~/.cache/seq2seq_adapters/tokenized")
TOKENIZED_FORMAT = "labels-no-cls-v1"
"""Part of the tokenization cache key: change it when `_tokenize_batch` changes."""

_FEATURES = datasets.Features(
    {
        "id": datasets.Value("string"),
        "document": datasets.Value("string"),
        "references": datasets.List(datasets.Value("string")),
        "_bad": datasets.Value("string"),
    }
)


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


@dataclass
class _RawSplit:
    """One split as read, before column detection; `origin` names it in error messages."""

    dataset: Dataset
    origin: str


def load_summarization_data(args: DataArgs, seed: int, *, carve_validation: bool = True) -> SummarizationData:
    """Load, normalize, carve a validation split if needed and cut to the requested sizes.

    `carve_validation=False` keeps a lone train split whole (`s2sa eval --data FILE` scores every row).
    """
    datasets.disable_progress_bars()
    with _quiet_datasets():
        if args.data is None:
            if args.text_column or args.summary_column:
                raise S2SAError("--text-column/--summary-column only apply with --data; the default ACLSum data has fixed fields")
            raw, source, license_ = _load_aclsum(), "ACLSum (aclsum package)", "MIT (ACLSum)"
        else:
            raw, source, license_ = _load_raw(args.data)
        splits, text_used, summary_used, skipped = {}, {}, {}, {}
        for split, part in raw.items():
            text, summaries = _pick_columns(part, args.text_column, args.summary_column)
            splits[split], skipped[split] = _normalize(part, split, text, summaries, args.on_bad_rows)
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


@contextmanager
def _quiet_datasets() -> Iterator[None]:
    """Silence datasets' own error logs: failures surface as one S2SAError line instead."""
    previous = datasets.logging.get_verbosity()
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)
    try:
        yield
    finally:
        datasets.logging.set_verbosity(previous)


def _load_aclsum() -> dict[str, _RawSplit]:
    """ACLSum: all sentences as the document, the three aspect summaries as one reference."""
    raw = {}
    for split, name in (("train", "train"), ("validation", "val"), ("test", "test")):
        docs = list(aclsum.ACLSum(name))
        table = {
            "id": [doc.id for doc in docs],
            "document": ["\n".join(doc.get_all_sentences()) for doc in docs],
            "summary": ["\n".join(doc.summaries[aspect] for aspect in ACLSUM_ASPECTS) for doc in docs],
        }
        raw[split] = _RawSplit(Dataset.from_dict(table), f"ACLSum {name}")
    return raw


def _load_raw(data: str) -> tuple[dict[str, _RawSplit], str, str | None]:
    """Dispatch on what `data` is: a file, a directory of split files, or a Hub dataset id."""
    path = Path(data).expanduser()
    if path.is_dir():
        files = _split_files(path)
        listing = ", ".join(f.name for f in files.values())
        license_file = path / "LICENSE"
        license_ = f"see {license_file}" if license_file.is_file() else None
        return {split: _RawSplit(_load_file(f, split), str(f)) for split, f in files.items()}, f"{path} ({listing})", license_
    if path.is_file():
        return {"train": _RawSplit(_load_file(path, "train"), str(path))}, str(path), None
    if _looks_like_path(data):
        raise S2SAError(f"data path not found: {data}")
    return _load_hub(data)


def _looks_like_path(data: str) -> bool:
    """A Hub id is `name` or `owner/name`; anything else path-like is a missing local path."""
    return (
        data.startswith((".", "~", "/", "\\"))
        or data.count("/") > 1
        or "\\" in data
        or re.search(r"\.[A-Za-z]+$", data) is not None
    )


def _split_files(directory: Path) -> dict[str, Path]:
    """Find train / validation|dev|val / test files with a supported extension."""
    found: dict[str, Path] = {}
    for path in sorted(directory.iterdir()):
        split = SPLIT_NAMES.get(path.stem)
        if split is None or path.suffix not in BUILDERS or not path.is_file():
            continue
        if split in found:
            raise S2SAError(f"two files for the {split} split in {directory}: {found[split].name} and {path.name}")
        found[split] = path
    if not found:
        raise S2SAError(
            f"no split files in {directory}: expected train, validation (or dev, val) and/or test "
            f"with extension {SUPPORTED}"
        )
    return {split: found[split] for split in SPLIT_ORDER if split in found}


def _load_file(path: Path, split: str) -> Dataset:
    """Read one local file with `datasets`, after cheap checks that give clearer errors."""
    _check_file(path)
    try:
        dataset = datasets.load_dataset(BUILDERS[path.suffix], data_files={split: str(path)}, split=split)
    except Exception as exc:  # datasets/pyarrow/pandas raise many types; the user gets one line
        raise S2SAError(f"could not read {path}: {_read_error(path, exc)}") from exc
    if len(dataset) == 0:
        raise S2SAError(f"data file {path} has no rows")
    return dataset


def _check_file(path: Path) -> None:
    """Extension, emptiness and format checks that datasets would report obscurely."""
    if path.suffix not in BUILDERS:
        raise S2SAError(f"unsupported data file extension '{path.suffix}' for {path}; supported: {SUPPORTED}")
    if _is_blank(path):
        raise S2SAError(f"data file {path} is empty")
    if path.suffix == ".jsonl":
        _check_jsonl(path)
    elif path.suffix == ".csv":
        with path.open(encoding="utf-8", errors="replace") as handle:
            if len(list(islice((line for line in handle if line.strip()), 2))) < 2:
                raise S2SAError(f"data file {path} has a header but no rows")
    elif path.suffix == ".parquet":
        try:
            rows = pq.read_metadata(path).num_rows
        except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for non-parquet bytes
            raise S2SAError(f"{path} is not a valid Parquet file: {_first_line(exc)}") from exc
        if rows == 0:
            raise S2SAError(f"data file {path} has no rows")


def _is_blank(path: Path) -> bool:
    """True for a file holding nothing but whitespace (reads only until the first other byte)."""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 16):
            if chunk.strip():
                return False
    return True


def parse_jsonl_object(line: str | bytes, where: str) -> dict:
    """One JSON Lines line as a dict, or one clear error naming `where` (e.g. "file.jsonl line 3")."""
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise S2SAError(f"{where}: malformed JSON ({_first_line(exc)})") from None
    if not isinstance(value, dict):
        raise S2SAError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value


def _check_jsonl(path: Path) -> None:
    """Every line must be one JSON object; report the first bad line by number."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                raise S2SAError(f"{path} line {number}: blank line (JSON Lines needs one object per line)")
            parse_jsonl_object(line, f"{path} line {number}")


def _read_error(path: Path, exc: BaseException) -> str:
    """The most useful one-line reason for a failed read (datasets often hides it in __cause__)."""
    if path.suffix == ".json":
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except ValueError as json_exc:
            return f"invalid JSON ({_first_line(json_exc)})"
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _load_hub(name: str) -> tuple[dict[str, _RawSplit], str, str | None]:
    """`datasets.load_dataset(name)`, failing fast with a clear message when the Hub is unreachable."""
    offline = (
        f"could not download dataset '{name}' from the Hugging Face Hub (offline?); pass a local file or "
        "directory instead (a copy already in the Hugging Face cache loads with HF_HUB_OFFLINE=1)"
    )
    if _hub_unreachable():
        raise S2SAError(offline)
    try:
        loaded = datasets.load_dataset(name)
    except ConnectionError as exc:
        raise S2SAError(offline) from exc
    except Exception as exc:  # bad id, missing config, gated repo...: one line, never a traceback
        raise S2SAError(f"could not load dataset '{name}' from the Hugging Face Hub: {_first_line(exc)}") from exc
    raw = {SPLIT_NAMES[s]: _RawSplit(d, f"{name} [{s}]") for s, d in loaded.items() if s in SPLIT_NAMES}
    if not raw:
        raise S2SAError(f"dataset '{name}' has none of the splits train/validation/dev/val/test (it has {', '.join(loaded)})")
    license_ = next(iter(raw.values())).dataset.info.license or None
    return raw, f"Hugging Face Hub dataset {name}", license_


def _hub_unreachable(timeout: float = 3.0) -> bool:
    """Probe the Hub endpoint: offline, datasets would retry for ~25 s before failing.

    Skipped in HF_HUB_OFFLINE mode (datasets then reads its cache without network) and behind a proxy.
    """
    if huggingface_hub.constants.HF_HUB_OFFLINE or urllib.request.getproxies().get("https"):
        return False
    endpoint = urlparse(huggingface_hub.constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=timeout).close()
    except OSError:
        return True
    return False


def _pick_columns(part: _RawSplit, text_column: str | None, summary_column: str | None) -> tuple[str, list[str]]:
    """The text column and the summary column(s), given by name or detected."""
    columns = part.dataset.column_names
    if text_column and text_column not in columns:
        raise S2SAError(f"text column '{text_column}' not found in {part.origin}; columns there: {', '.join(columns)}")
    text = text_column or _detect(columns, TEXT_CANDIDATES, (), "text", part.origin)[0]
    if summary_column:
        summaries = _named_summaries(columns, summary_column, part.origin)
    else:
        summaries = _detect(columns, SUMMARY_CANDIDATES, (text,), "summary", part.origin)
    if text in summaries:
        raise S2SAError(f"column '{text}' cannot be both the text and the summary column")
    return text, summaries


def _numbered(columns: list[str], name: str) -> list[str]:
    """`name1, name2, ...` in numeric order."""
    found = [c for c in columns if re.fullmatch(re.escape(name) + r"\d+", c)]
    return sorted(found, key=lambda c: int(c[len(name) :]))


def _detect(columns: list[str], candidates: tuple[str, ...], taken: tuple[str, ...], kind: str, origin: str) -> list[str]:
    """First candidate present wins; for summaries, numbered columns (summary1..N) come next."""
    free = [c for c in columns if c not in taken]
    for name in candidates:
        if name in free:
            return [name]
    if kind == "summary":
        for name in candidates:
            if numbered := _numbered(free, name):
                return numbered
    raise S2SAError(
        f"no {kind} column found in {origin} (looked for {', '.join(candidates)}); "
        f"columns there: {', '.join(columns)}; pass --{kind}-column"
    )


def _named_summaries(columns: list[str], spec: str, origin: str) -> list[str]:
    """`a,b` names several reference columns; `summary` also matches summary1..N when absent itself."""
    picked = []
    for name in (n.strip() for n in spec.split(",") if n.strip()):
        found = [name] if name in columns else _numbered(columns, name)
        if not found:
            raise S2SAError(f"summary column '{name}' not found in {origin}; columns there: {', '.join(columns)}")
        picked += found
    return picked


def _normalize(part: _RawSplit, split: str, text: str, summaries: list[str], on_bad_rows: str) -> tuple[Dataset, int]:
    """Map to `id`/`document`/`references`, then drop (or fail on) rows with empty or non-text cells."""
    dataset = part.dataset
    id_column = next((c for c in ID_CANDIDATES if c in dataset.column_names), None)
    convert = partial(_convert_batch, text=text, summaries=summaries, id_column=id_column)
    mapped = dataset.map(convert, batched=True, with_indices=True, remove_columns=dataset.column_names, features=_FEATURES)
    bad = mapped["_bad"][:]  # a plain list, read in one Arrow slice
    bad_rows = [i for i, column in enumerate(bad) if column]
    if bad_rows and on_bad_rows == "fail":
        row = bad_rows[0]
        raise S2SAError(
            f"{split} row {row} ({part.origin}): column '{bad[row]}' is empty or not text; "
            "fix the data or pass --on-bad-rows skip"
        )
    if len(bad_rows) == len(mapped):
        raise S2SAError(f"all {len(mapped)} rows of the {split} split ({part.origin}) have empty or non-text cells")
    if bad_rows:
        bad_set = set(bad_rows)
        mapped = mapped.select([i for i in range(len(mapped)) if i not in bad_set])
    return mapped.remove_columns("_bad"), len(bad_rows)


def _convert_batch(
    batch: dict[str, list[Any]], indices: list[int], text: str, summaries: list[str], id_column: str | None
) -> dict[str, list[Any]]:
    """One batch in the normalized shape; `_bad` names the first unusable column of a row ('' if none)."""
    out: dict[str, list[Any]] = {"id": [], "document": [], "references": [], "_bad": []}
    for position, index in enumerate(indices):
        document = _as_texts(batch[text][position])
        references: list[str] = []
        bad = "" if document else text
        for column in summaries:
            cell = _as_texts(batch[column][position])
            if not cell and not bad:
                bad = column
            references += cell
        row_id = batch[id_column][position] if id_column else None
        out["id"].append(str(index if row_id is None else row_id))
        out["document"].append("\n".join(document))
        out["references"].append(references if not bad else [])
        out["_bad"].append(bad)
    return out


def _as_texts(cell: Any) -> list[str]:
    """A string or list of strings as non-blank stripped strings; [] for anything unusable."""
    items = cell if isinstance(cell, list) else [cell]
    if not all(isinstance(item, str) for item in items):
        return []
    return [item.strip() for item in items if item.strip()]


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


def _fingerprint(splits: DatasetDict) -> str:
    """A stable hash of the final splits, from datasets' content/transform fingerprints."""
    joined = ";".join(f"{split}={dataset._fingerprint}" for split, dataset in splits.items())
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


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
    cache_dir.mkdir(parents=True, exist_ok=True)
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


def _tokenized_key(dataset: Dataset, tokenizer: Any, max_source_length: int, max_target_length: int) -> str:
    """Cache key: data fingerprint, tokenizer identity and vocabulary size, lengths, output format."""
    parts = [
        dataset._fingerprint,
        type(tokenizer).__name__,
        tokenizer.name_or_path,
        str(len(tokenizer)),
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
