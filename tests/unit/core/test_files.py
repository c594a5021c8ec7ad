"""Atomic writes (the old file or the new one, never half), the output-folder guard's symbolic links, a full disk
named as one error."""

from __future__ import annotations

import errno
import json

import pytest

from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import check_output_dir


def test_the_guard_names_a_symbolic_link_that_leads_nowhere(tmp_path):
    """A link loop (or a broken link) on the way to an output folder used to pass the guard and fail in mkdir."""
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    (tmp_path / "gone").symlink_to(tmp_path / "missing")
    for path in (tmp_path / "a" / "run", tmp_path / "b", tmp_path / "gone" / "x" / "y"):
        with pytest.raises(S2SAError, match="is a symbolic link that leads nowhere"):
            check_output_dir(path, overwrite=True)


def test_an_atomic_write_leaves_the_old_file_or_the_new_one_never_half(tmp_path, monkeypatch):
    from seq2seq_adapters.core import files

    path = tmp_path / "reports" / "rouge_test.json"
    files.atomic_write_json(path, {"rouge1": 0.5, "note": "café"})  # the folder is created
    assert path.read_text(encoding="utf-8") == '{\n  "rouge1": 0.5,\n  "note": "café"\n}\n'

    def interrupted(source, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        files.atomic_write_text(path, "half")
    assert json.loads(path.read_text(encoding="utf-8"))["rouge1"] == 0.5
    assert [p.name for p in path.parent.iterdir()] == ["rouge_test.json"]  # no temporary file left


def test_a_full_disk_is_one_error_naming_the_file(tmp_path):
    """As torch words it too: the ENOSPC below the error it raised from is found."""
    from seq2seq_adapters.core.files import DiskFull, naming_a_full_disk

    target = tmp_path / "checkpoint-4"
    with pytest.raises(DiskFull, match=f"^no space left on device while writing {target}; the partial checkpoint was removed$"):
        with naming_a_full_disk(target, then="; the partial checkpoint was removed"):
            try:
                raise OSError(errno.ENOSPC, "No space left on device")
            except OSError as exc:
                raise RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed") from exc
    with pytest.raises(ValueError, match="not a disk"):
        with naming_a_full_disk(target):
            raise ValueError("not a disk")
