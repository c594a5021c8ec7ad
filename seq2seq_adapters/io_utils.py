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


def _inside(child: Path, parent: Path) -> bool:
    child, parent = child.resolve(), parent.resolve()
    return child == parent or parent in child.parents


def check_output_dir(path: Path, overwrite: bool, config: Any = None, flag: str = "--output-dir") -> None:
    """Refuse a file, a non-empty folder without --overwrite, and an --overwrite that would delete inputs.

    Writes and deletes nothing (cheap: the CLI calls it before loading anything). `config` (a RunConfig)
    names the inputs to protect: --data, --encoder, --decoder; the current directory is always protected.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise S2SAError(f"{flag} {path} is a file")
    if not (path.is_dir() and any(path.iterdir())):
        return
    if not overwrite:
        raise S2SAError(f"{flag} {path} is not empty; pass --overwrite to replace it or --resume {path}")
    inputs = {"the current directory": Path.cwd()}
    if config is not None:
        for name, value in (("data", config.data.data), ("encoder", config.model.encoder), ("decoder", config.model.decoder)):
            if value and Path(value).expanduser().exists():
                inputs[f"--{name} {value}"] = Path(value).expanduser()
    for what, input_path in inputs.items():
        if _inside(input_path, path):
            raise S2SAError(f"--overwrite would delete {path}, which holds {what}; choose another {flag}")
