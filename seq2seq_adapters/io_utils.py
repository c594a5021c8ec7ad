"""Small file helpers: atomic text/JSON writes, JSON-lines appends, the --output-dir check."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from .errors import S2SAError


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
    path: Path, overwrite: bool, protected: dict[str, Path] | None = None, flag: str = "--output-dir", alternative: str = ""
) -> None:
    """The one guard of a folder a command replaces as a whole (`train --output-dir`, `export-adapter --output`).

    Refuses a file, a folder holding the current directory or a `protected` path (what: path), and a
    non-empty folder without --overwrite (`alternative` names another way out, e.g. " or --resume DIR").
    Writes and deletes nothing (cheap: the CLI calls it before loading anything)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise S2SAError(f"{flag} {path} is a file")
    if not (path.is_dir() and any(path.iterdir())):
        return
    for what, inside in {"the current directory": Path.cwd(), **(protected or {})}.items():
        if _inside(inside, path):
            raise S2SAError(f"{flag} {path} would replace {what}, which it holds; choose another {flag}")
    if not overwrite:
        raise S2SAError(f"{flag} {path} is not empty; pass --overwrite to replace it{alternative}")


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from a file, or None when the file is missing or not an object."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
