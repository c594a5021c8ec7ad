"""Read summarization data as it is stored: a file, a folder of split files, a Hub dataset or bundled ACLSum.

Each split comes back as read (`RawSplit`), before columns are chosen (columns.py); a bad file, path or
Hub id is one S2SAError line.
"""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import aclsum
import datasets
import pyarrow.parquet as pq
from datasets import Dataset

from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import check_cache_folder, too_long
from seq2seq_adapters.core.hub import hub_unreachable

BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
"""Supported local file extensions and the `datasets` builder that reads each."""


SUPPORTED = ", ".join(BUILDERS)


SPLIT_ORDER = ("train", "validation", "test")
SPLIT_NAMES = {"train": "train", "validation": "validation", "dev": "validation", "val": "validation", "test": "test"}
"""File stems / hub split names and the split they stand for."""


ACLSUM_ASPECTS = ("challenge", "approach", "outcome")


@dataclass
class RawSplit:
    """One split as read, before column detection; `origin` names it in error messages."""

    dataset: Dataset
    origin: str


@contextmanager
def quiet_datasets() -> Iterator[None]:
    """Silence datasets' own error logs: failures surface as one S2SAError line instead."""
    previous = datasets.logging.get_verbosity()
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)
    try:
        yield
    finally:
        datasets.logging.set_verbosity(previous)


def load_aclsum() -> dict[str, RawSplit]:
    """ACLSum: all sentences as the document, the three aspect summaries as one reference."""
    raw = {}
    for split, name in (("train", "train"), ("validation", "val"), ("test", "test")):
        docs = list(aclsum.ACLSum(name))
        table = {
            "id": [doc.id for doc in docs],
            "document": ["\n".join(doc.get_all_sentences()) for doc in docs],
            "summary": ["\n".join(doc.summaries[aspect] for aspect in ACLSUM_ASPECTS) for doc in docs],
        }
        raw[split] = RawSplit(Dataset.from_dict(table), f"ACLSum {name}")
    return raw


def load_raw(data: str) -> tuple[dict[str, RawSplit], str, str | None]:
    """Dispatch on what `data` is: a file, a directory of split files, or a Hub dataset id."""
    path = Path(data).expanduser()
    if path.is_dir():
        files = _split_files(path)
        listing = ", ".join(f.name for f in files.values())
        license_file = path / "LICENSE"
        license_ = f"see {license_file}" if license_file.is_file() else None
        return {split: RawSplit(_load_file(f, split), str(f)) for split, f in files.items()}, f"{path} ({listing})", license_
    if path.is_file():
        return {"train": RawSplit(_load_file(path, "train"), str(path))}, str(path), None
    if _looks_like_path(data):
        raise S2SAError(not_found(data))
    return _load_hub(data)


def check_local_data(data: str | None, split: str, hint: str) -> None:
    """The cheap checks of local `data` that the caller's `split` is in (before any model loads): the path,
    each file's format, and the split (a single file stands for any split; validation can be carved from train)."""
    path = Path(data).expanduser() if data else None
    if path is not None and (problem := too_long(path)):  # Path.exists raises on it; no Hub id is that long
        raise S2SAError(f"data path {data} {problem}")
    if path is None or not (path.exists() or _looks_like_path(data)):
        return  # the bundled ACLSum or a Hub id: checked when loaded
    if not path.exists():
        raise S2SAError(not_found(data))
    files = _split_files(path) if path.is_dir() else {split: path}
    carved = split == "validation" and "train" in files
    if split not in files and not carved:
        raise S2SAError(missing_split(split, f"{path} ({', '.join(f.name for f in files.values())})", files, hint))
    for file in files.values():
        _check_file(file)


def missing_split(split: str, source: str, available: Iterable[str], hint: str) -> str:
    """The one message for data without the split a command needs (`hint`: what to do)."""
    return f"no {split} split in {source}; it has {', '.join(available)} ({hint})"


def not_found(data: str) -> str:
    """The message for a local data path that is not there (or is a symbolic link to nothing)."""
    dangling = " (a symbolic link that leads nowhere: broken, or a loop)" if Path(data).expanduser().is_symlink() else ""
    return f"data path not found: {data}{dangling}"


def _looks_like_path(data: str) -> bool:
    """A Hub id is `name` or `owner/name`; anything else path-like (or a symbolic link) is a missing local path."""
    return (
        Path(data).expanduser().is_symlink()
        or data.startswith((".", "~", "/", "\\"))
        or data.count("/") > 1
        or "\\" in data
        or re.search(r"\.[A-Za-z]+$", data) is not None
    )


def _split_files(directory: Path) -> dict[str, Path]:
    """Find train / validation|dev|val / test files with a supported extension."""
    found: dict[str, Path] = {}
    for path in sorted(directory.iterdir()):
        split = SPLIT_NAMES.get(path.stem)
        if split is None or path.suffix not in BUILDERS:
            continue
        if not path.is_file():  # a broken link or a folder named like a split file: never silently left out
            raise S2SAError(f"{path} names the {split} split but is not a readable regular file"
                            f"{' (a broken link)' if path.is_symlink() and not path.exists() else ''}; fix or remove it")
        if split in found:
            raise S2SAError(f"two files for the {split} split in {directory}: {found[split].name} and {path.name}")
        found[split] = path
    if not found:
        raise S2SAError(
            f"no split files in {directory}: expected train, validation (or dev, val) and/or test "
            f"with extension {SUPPORTED}"
        )
    return {split: found[split] for split in SPLIT_ORDER if split in found}


DATASETS_CACHE_HINT = "set HF_DATASETS_CACHE (or HF_HOME) to a folder you can write"
"""Where the datasets library keeps its Arrow files, and how to move it."""


def _load_file(path: Path, split: str) -> Dataset:
    """Read one local file with `datasets`, after cheap checks that give clearer errors."""
    _check_file(path)
    check_cache_folder(Path(datasets.config.HF_DATASETS_CACHE), DATASETS_CACHE_HINT)
    try:
        dataset = datasets.load_dataset(BUILDERS[path.suffix], data_files={split: str(path)}, split=split)
    except Exception as exc:  # datasets/pyarrow/pandas raise many types; the user gets one line
        raise S2SAError(f"could not read {path}: {_read_error(path, exc)}") from exc
    if len(dataset) == 0:
        raise S2SAError(f"data file {path} has no rows")
    return dataset


def _check_file(path: Path) -> None:
    """Kind, extension, emptiness and format checks that datasets would report obscurely."""
    if path.exists() and not stat.S_ISREG(path.stat().st_mode):  # a device (/dev/zero) or FIFO never ends
        raise S2SAError(f"data file {path} is not a regular file (a device, FIFO or socket); s2sa reads data only from regular files")
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


def _load_hub(name: str) -> tuple[dict[str, RawSplit], str, str | None]:
    """`datasets.load_dataset(name)`, failing fast with a clear message when the Hub is unreachable."""
    offline = (
        f"could not download dataset '{name}' from the Hugging Face Hub (offline?); pass a local file or "
        "directory instead (a copy already in the Hugging Face cache loads with HF_HUB_OFFLINE=1)"
    )
    if hub_unreachable():
        raise S2SAError(offline)
    check_cache_folder(Path(datasets.config.HF_DATASETS_CACHE), DATASETS_CACHE_HINT)
    try:
        loaded = datasets.load_dataset(name)
    except ConnectionError as exc:
        raise S2SAError(offline) from exc
    except Exception as exc:  # bad id, missing config, gated repo...: one line, never a traceback
        raise S2SAError(f"could not load dataset '{name}' from the Hugging Face Hub: {_first_line(exc)}") from exc
    raw = {SPLIT_NAMES[s]: RawSplit(d, f"{name} [{s}]") for s, d in loaded.items() if s in SPLIT_NAMES}
    if not raw:
        raise S2SAError(f"dataset '{name}' has none of the splits train/validation/dev/val/test (it has {', '.join(loaded)})")
    license_ = next(iter(raw.values())).dataset.info.license or None
    return raw, f"Hugging Face Hub dataset {name}", license_
