"""Checkpoint folders that carry their own Python code: s2sa runs it only on `--trust-remote-code`.

transformers imports Python files from a checkpoint folder when its `config.json` or `tokenizer_config.json`
names them in `auto_map` and the caller passes `trust_remote_code=True`, and it imports the
`custom_generate/generate.py` of any *local* folder that loads as a model that generates, whatever
`trust_remote_code` says (transformers 4.57 counts a local folder as local code). The permission is never
a setting (not in `s2sa.json`, `run_config.json` or a YAML file): it is given per invocation, by the
command line's `--trust-remote-code` or a Python caller's explicit `trust_remote_code=True`. Without it,
a folder with such code is refused before anything is loaded or written.

Torch-free, so that `eval`, `summarize`, `export-adapter` and `train` check before they import torch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from seq2seq_adapters.config.schema import DEFAULT_CHECKPOINT
from seq2seq_adapters.core.errors import S2SAError

FLAG = "--trust-remote-code"
CONFIG_FILES = ("config.json", "tokenizer_config.json")
"""Files whose `auto_map` names Python modules of the folder (a merged model's encoder and decoder
sections may hold their own)."""
GENERATE_CODE = "custom_generate/generate.py"
"""A generate() replacement that transformers imports from a local folder without asking."""


def _has_auto_map(value: Any) -> bool:
    if isinstance(value, dict):
        return "auto_map" in value or any(_has_auto_map(item) for item in value.values())
    return False


def code_files(folder: str | Path) -> list[str]:
    """What in a checkpoint folder would make transformers run the folder's own Python code."""
    folder = Path(folder)
    found = []
    for name in CONFIG_FILES:
        try:
            content = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):  # missing or unreadable: the loader reports it
            continue
        if _has_auto_map(content):
            found.append(f"auto_map in {name}")
    if (folder / GENERATE_CODE).exists():
        found.append(GENERATE_CODE)
    return found


def refusal(name: str | Path, what: str) -> S2SAError:
    """The one-line refusal for a checkpoint whose own code would run."""
    return S2SAError(
        f"checkpoint {name} ships its own Python code ({what}), which s2sa runs only when the command line says "
        f"{FLAG}; read that code, and pass {FLAG} if you trust it"
    )


def check_checkpoint_code(checkpoints: Iterable[str | Path | None], trust_remote_code: bool) -> None:
    """Refuse local checkpoint folders that carry their own code unless `trust_remote_code` was given.

    Hub ids are checked as they load (`model/builder.py`): their files are not here yet."""
    if trust_remote_code:
        return
    for name in checkpoints:
        if not name or str(name) == DEFAULT_CHECKPOINT:
            continue
        folder = Path(name).expanduser()
        if folder.is_dir() and (found := code_files(folder)):
            raise refusal(name, " and ".join(found))


def is_remote_code_error(exc: BaseException) -> bool:
    """Whether transformers refused to load because the checkpoint needs its own code."""
    return "trust_remote_code" in str(exc)
