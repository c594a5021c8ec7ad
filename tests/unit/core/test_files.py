"""core/files.py: the one writer (regular files only, atomic: the old file or the new one, never half), the output
guards (links that lead nowhere included), the marker, the folder lock, a full disk named as one error."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
from pathlib import Path

import pytest

from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import (
    MARKER,
    append_jsonl,
    atomic_write_text,
    check_creatable,
    check_output_dir,
    check_output_file,
    empty_folder,
    mark_as_written,
    naming_a_refused_write,
    output_path,
    special_kind,
    writing_folder,
    written_by_s2sa,
    wrong_kind,
)


def specials(tmp_path: Path) -> dict[str, Path]:
    """A FIFO, a character device (the null device's numbers, but inside tmp_path), links to a file and a folder."""
    (tmp_path / "file.txt").write_text("mine\n")
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo")
    os.mknod(tmp_path / "dev", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    (tmp_path / "file-link").symlink_to(tmp_path / "file.txt")
    (tmp_path / "folder-link").symlink_to(tmp_path / "folder", target_is_directory=True)
    return {"fifo": tmp_path / "fifo", "dev": tmp_path / "dev", "file-link": tmp_path / "file-link"}


def test_the_writer_writes_regular_files_whole_and_nothing_else(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    atomic_write_text(target, "one\n")
    atomic_write_text(target, "two\n")
    assert target.read_text() == "two\n" and sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]
    for name, path in specials(tmp_path).items():
        with pytest.raises(S2SAError, match="s2sa writes only regular files"):
            atomic_write_text(path, "x")
        assert special_kind(path) is not None, name
    assert (tmp_path / "file.txt").read_text() == "mine\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_the_file_guard_refuses_links_and_special_files_naming_the_flag(tmp_path):
    for path in specials(tmp_path).values():
        with pytest.raises(S2SAError, match=rf"^--output {path} is a (FIFO|character device|symbolic link)"):
            check_output_file(path, "--output")
    check_output_file(tmp_path / "file.txt", "--output")  # a regular file is replaced, as always
    check_output_file(tmp_path / "new.txt", "--output")


def test_dotdot_is_resolved_before_the_checks():
    assert output_path("B/checkpoints/..") == Path("B")
    assert output_path("../x/./y") == Path("../x/y")


def test_the_folder_guard(tmp_path):
    specials(tmp_path)
    with pytest.raises(S2SAError, match="--output-dir .*folder-link is a symbolic link"):
        check_output_dir(tmp_path / "folder-link", overwrite=True)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "a.txt").write_text("mine\n")
    with pytest.raises(S2SAError, match="is not empty; pass --overwrite"):
        check_output_dir(mine, overwrite=False)
    with pytest.raises(S2SAError, match=rf"--output {mine} holds files s2sa did not write; choose another folder or empty it yourself"):
        check_output_dir(mine, overwrite=True, flag="--output")
    with pytest.raises(S2SAError, match=rf"--output-dir {mine} holds files"):
        check_output_dir(mine / "sub" / "..", overwrite=True)
    mark_as_written(mine)
    check_output_dir(mine, overwrite=True)
    only_marker = tmp_path / "only-marker"
    mark_as_written(only_marker)
    check_output_dir(only_marker, overwrite=False)  # the marker alone counts as empty


@pytest.mark.parametrize("legacy", ["run_config.json", "run.json", "s2sa.json"])
def test_folders_older_s2sa_wrote_are_recognised(tmp_path, legacy):
    (tmp_path / legacy).write_text("{}")
    assert written_by_s2sa(tmp_path)


def test_a_merged_export_is_recognised_by_its_model_card(tmp_path):
    (tmp_path / "README.md").write_text("---\ntags:\n- seq2seq_adapters\n---\n")
    assert written_by_s2sa(tmp_path)
    (tmp_path / "README.md").write_text("# my project\n")
    assert not written_by_s2sa(tmp_path)


def test_empty_folder_keeps_the_folder_and_its_marker(tmp_path):
    mark_as_written(tmp_path)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("x")
    (tmp_path / "f").write_text("f")
    (tmp_path / "link").symlink_to(tmp_path / "d", target_is_directory=True)
    empty_folder(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [MARKER]


def test_a_folder_is_written_by_one_command_at_a_time(tmp_path):
    folder = tmp_path / "run"
    with writing_folder(folder, "--output-dir") as path:
        assert path == folder and folder.is_dir()
        with pytest.raises(S2SAError, match=rf"^--output-dir {folder} is being written by another s2sa command"):
            with writing_folder(tmp_path / "run" / "x" / "..", "--output-dir"):
                pass
        (folder / "f").write_text("x")
    with writing_folder(folder, "--output-dir"):  # released when the block ends
        pass


def test_a_lock_held_elsewhere_refuses_and_a_failed_block_removes_the_folder_it_made(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        with pytest.raises(S2SAError, match="is being written by another s2sa command"):
            with writing_folder(folder, "--output"):
                pass
    finally:
        os.close(fd)
    assert folder.is_dir()  # not made by the refused command: left
    fresh = tmp_path / "fresh"
    with pytest.raises(RuntimeError):
        with writing_folder(fresh, "--output"):
            raise RuntimeError
    assert not fresh.exists()
    (tmp_path / "link").symlink_to(folder, target_is_directory=True)
    with pytest.raises(S2SAError, match="is a symbolic link"):
        with writing_folder(tmp_path / "link", "--resume"):
            pass


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


def test_appending_refuses_a_link_or_a_fifo_put_in_the_files_place(tmp_path):
    append_jsonl(tmp_path / "metrics.jsonl", {"step": 1})
    append_jsonl(tmp_path / "metrics.jsonl", {"step": 2})
    assert (tmp_path / "metrics.jsonl").read_text() == '{"step": 1}\n{"step": 2}\n'
    target = tmp_path / "elsewhere.txt"
    target.write_text("mine\n")
    (tmp_path / "linked.jsonl").symlink_to(target)
    os.mkfifo(tmp_path / "fifo.jsonl")
    for name in ("linked.jsonl", "fifo.jsonl"):
        with pytest.raises(S2SAError, match=f"{name} is a"):
            append_jsonl(tmp_path / name, {"step": 3})
    assert target.read_text() == "mine\n"


def test_a_failed_writer_removes_the_empty_folders_it_created_parents_included(tmp_path):
    with pytest.raises(RuntimeError), writing_folder(tmp_path / "runs" / "new", "--output-dir"):
        raise RuntimeError("the command failed before writing anything")
    assert not (tmp_path / "runs").exists()
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "other").mkdir()
    with pytest.raises(RuntimeError), writing_folder(tmp_path / "runs" / "new" / "deeper", "--output-dir"):
        raise RuntimeError("again")
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["other"]  # runs/ was there before: kept


def test_a_name_too_long_to_look_at_is_one_line_not_enametoolong(tmp_path):
    """Path.exists/is_dir raise ENAMETOOLONG (a traceback) on a part over 255 bytes: the guards name it instead."""
    long = tmp_path / ("b" * 300) / "x"
    assert wrong_kind(long, want_folder=True) == "has a name longer than the 255 bytes a file name may have"
    for guard in (lambda: check_output_dir(long, overwrite=False), lambda: check_output_file(long, "--output"), lambda: check_creatable(long, "--output-dir")):
        with pytest.raises(S2SAError, match="longer than the 255 bytes"):
            guard()
    assert wrong_kind(tmp_path / ("b" * 255), want_folder=True) is None


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES, errno.EPERM])
def test_a_write_the_system_refuses_is_one_line_naming_the_path(code):
    with pytest.raises(S2SAError, match=f"^the system refused runs/x/metrics.jsonl: {os.strerror(code)}$"):
        with naming_a_refused_write():
            raise OSError(code, os.strerror(code), "runs/x/metrics.jsonl")
    with pytest.raises(FileNotFoundError), naming_a_refused_write():  # other errors are not its business
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "x")
