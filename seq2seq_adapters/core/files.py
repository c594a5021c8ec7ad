"""Small file helpers: atomic text/JSON writes, JSON-lines appends, the output guards, full-disk errors."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from seq2seq_adapters.core.errors import S2SAError


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` so readers see the old file or the new one, never half.

    Writes a temporary file in the same directory, fsyncs it, then os.replace()s it over
    `path`. Creates missing parent directories.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    """Atomically write `obj` as indented UTF-8 JSON with a trailing newline."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append `record` as one JSON line (a single write), creating the file and parents."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")


def wrong_kind(path: Path, want_folder: bool) -> str | None:
    """"is a folder, not a file" (or the reverse) when `path` exists as the other kind, else None:
    for the messages of paths that must be files or folders, which would otherwise say "not found"."""
    path = Path(path)
    if want_folder and path.exists() and not path.is_dir():
        return "is a file, not a folder"
    if not want_folder and path.is_dir():
        return "is a folder, not a file"
    return None


def _inside(child: Path, parent: Path) -> bool:
    child, parent = child.resolve(), parent.resolve()
    return child == parent or parent in child.parents


def check_output_dir(
    path: Path,
    overwrite: bool,
    protected: dict[str, Path] | None = None,
    flag: str = "--output-dir",
    alternative: str = "",
    *,
    outside: dict[str, Path] | None = None,
    replaced: bool = True,
) -> None:
    """The one guard of an output folder (`train --output-dir`, `eval --output-dir`, `export-adapter --output`).

    Refuses a file, a place it cannot create, a folder inside one of `outside` (what: path; e.g. a run's own
    adapter/, which training replaces; the folder itself too unless the command replaces it whole) and, when
    the command replaces the folder as a whole (`replaced`), one holding the current directory or a `protected`
    path, or a non-empty one without --overwrite (`alternative` names another way out, e.g. " or --resume DIR").
    Writes and deletes nothing (cheap: commands call it before loading anything)."""
    path = Path(path)
    if problem := wrong_kind(path, want_folder=True):
        raise S2SAError(f"{flag} {path} {problem}")
    check_creatable(path, flag)
    for what, folder in (outside or {}).items():
        if _inside(path, folder) and not (replaced and _inside(folder, path)):  # replaced: "would replace" below
            raise S2SAError(f"{flag} {path} is inside {what}; choose a folder outside it")
    if not (replaced and path.is_dir()):
        return
    for what, inside in {"the current directory": Path.cwd(), **(protected or {})}.items():
        if _inside(inside, path):
            raise S2SAError(f"{flag} {path} would replace {what}, which it holds; choose another {flag}")
    if any(path.iterdir()) and not overwrite:
        raise S2SAError(f"{flag} {path} is not empty; pass --overwrite to replace it{alternative}")


def check_output_file(path: Path | None, flag: str, inputs: Iterable[str | Path] = ()) -> None:
    """The guard of an output file (`summarize --output`, `eval --compare --markdown`): not a folder, in a place
    it can create, not one of the command's `inputs` and not an existing file inside an input folder (a run's
    s2sa.json or run.json); checked before any work, not after it."""
    if path is None:
        return
    path = Path(path)
    if problem := wrong_kind(path, want_folder=False):
        raise S2SAError(f"{flag} {path} {problem}")
    check_creatable(path, flag)
    for item in map(Path, inputs):
        if item.is_file() and item.resolve() == path.resolve():
            raise S2SAError(f"{flag} {path} is also an input; choose another {flag}")
        if item.is_dir() and path.exists() and _inside(path, item):
            raise S2SAError(f"{flag} {path} would replace a file of {item}, which the command reads; choose another {flag}")


def check_creatable(path: Path, flag: str) -> None:
    """The nearest existing folder above `path` is a folder this process may write in, and no part of the way
    there is a symbolic link that leads nowhere (mkdir would fail on it after other work)."""
    target = Path(path).absolute()
    for parent in (target, *target.parents):
        if parent.is_symlink() and not parent.exists():
            raise S2SAError(f"{flag} {path}: {parent} is a symbolic link that leads nowhere (broken, or a loop)")
        if parent != target and parent.exists():
            break
    if not parent.is_dir():
        raise S2SAError(f"{flag} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise S2SAError(f"{flag} {path}: cannot write in {parent} (permission denied)")


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from a file, or None when the file is missing or not an object."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """An exception and those it was raised from."""
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether an exception (or one it was raised from) is a write that ran out of space, also as torch or
    safetensors word it."""
    return any(
        (isinstance(e, OSError) and e.errno in NO_SPACE) or "No space left on device" in str(e) or "StorageFull" in str(e)
        for e in _chain(exc)
    )


class DiskFull(S2SAError):
    """A write ran out of space; the message names what was being written."""


@contextlib.contextmanager
def naming_a_full_disk(path: Path | None = None, then: str = "") -> Iterator[None]:
    """A full disk while the block writes `path` becomes one error line naming it (`then`: what was done about
    it); without `path`, the file the failed write names, if any (the CLI's net under every command)."""
    try:
        yield
    except DiskFull:
        raise
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        path = path or next((e.filename for e in _chain(exc) if isinstance(e, OSError) and e.filename), None)
        raise DiskFull(f"no space left on device{f' while writing {path}' if path else ''}{then}") from None
