"""One writer for every output: s2sa writes only regular files and folders it made, one command at a time.

Each defect of the issue recreated with objects inside tmp_path (a FIFO, a character device made with mknod,
symbolic links, a folder of the user's own files, `..` paths, a folder another writer holds): the real CLI
refuses in one `error:` line naming the flag and the path, exit 1, before any model loads, and the target
is left as it was.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import assert_one_line_error, run_cli, snapshot
from tiny import tiny_run_config, train_tiny

FAST = 60  # seconds: every refusal here comes before any model is loaded


@pytest.fixture(scope="module")
def finished_run(tiny_bert, dialog_jsonl, tmp_path_factory) -> Path:
    """A finished 2-step run of the tiny BERT (written by today's s2sa: it holds the .s2sa marker)."""
    return train_tiny(tiny_run_config(tiny_bert, dialog_jsonl, tmp_path_factory.mktemp("outputs") / "run")).output_dir


def char_device(path: Path) -> Path:
    """A character device with the null device's numbers, inside tmp_path: writing it would be harmless."""
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    return path


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def file_link(path: Path) -> Path:
    (path.parent / "target.txt").write_text("the user's\n")
    path.symlink_to(path.parent / "target.txt")
    return path


def kind(path: Path) -> str:
    mode = os.lstat(path).st_mode
    return next(name for name, test in {"link": stat.S_ISLNK, "fifo": stat.S_ISFIFO, "chr": stat.S_ISCHR, "file": stat.S_ISREG, "dir": stat.S_ISDIR}.items() if test(mode))


SPECIAL = {"fifo": (fifo, "a FIFO (named pipe)"), "chr": (char_device, "a character device"), "link": (file_link, "a symbolic link")}


def timed(args: list[str], **kwargs):
    start = time.perf_counter()
    result = run_cli(args, **kwargs)
    return result, time.perf_counter() - start


@pytest.mark.parametrize("what", sorted(SPECIAL))
def test_compare_markdown_is_never_a_special_file_or_a_link(what, tmp_path):
    make, words = SPECIAL[what]
    target = make(tmp_path / "table.md")
    result, _ = timed(["eval", "--compare", str(tmp_path / "a"), str(tmp_path / "b"), "--markdown", str(target)])
    assert_one_line_error(result, "--markdown", str(target), f"is {words}", "s2sa writes only regular files")
    assert kind(target) == what
    if what == "link":
        assert (tmp_path / "target.txt").read_text() == "the user's\n"


@pytest.mark.parametrize("what", sorted(SPECIAL))
def test_summarize_output_is_never_a_special_file_or_a_link(what, finished_run, tmp_path):
    make, words = SPECIAL[what]
    target = make(tmp_path / "summaries.jsonl")
    (tmp_path / "doc.txt").write_text("#Person1#: Hello there. #Person2#: Hi, how are you?\n")
    result, seconds = timed(["summarize", str(finished_run), str(tmp_path / "doc.txt"), "--output", str(target)], cwd=tmp_path)
    assert_one_line_error(result, "--output", str(target), f"is {words}")
    assert kind(target) == what and seconds < FAST
    if what == "link":
        assert (tmp_path / "target.txt").read_text() == "the user's\n"


def test_compare_plot_is_checked_before_any_work_too(tmp_path):
    target = fifo(tmp_path / "curves.png")
    result, _ = timed(["eval", "--compare", str(tmp_path / "a"), str(tmp_path / "b"), "--plot", str(target)])
    assert_one_line_error(result, "--plot", str(target), "is a FIFO")
    assert kind(target) == "fifo"


def test_train_output_dir_link_to_a_run_is_refused_not_followed(finished_run, tiny_bert, dialog_jsonl, tmp_path):
    folder = tmp_path / "real-run"
    shutil.copytree(finished_run, folder)
    before = snapshot(folder)
    link = tmp_path / "link"
    link.symlink_to(folder, target_is_directory=True)
    args = ["train", "--encoder", str(tiny_bert), "--decoder", str(tiny_bert), "--data", str(dialog_jsonl), "--max-steps", "1"]
    result, seconds = timed([*args, "--output-dir", str(link), "--overwrite"])
    assert_one_line_error(result, "--output-dir", str(link), "is a symbolic link")
    assert link.is_symlink() and snapshot(folder) == before and seconds < FAST


def test_export_output_through_dotdot_is_the_run_itself(finished_run, tmp_path):
    before = snapshot(finished_run)
    output = f"{finished_run}/checkpoints/.."
    result, _ = timed(["export-adapter", str(finished_run), "--output", output, "--overwrite"])
    assert_one_line_error(result, "--output", str(finished_run), "would replace the run")
    assert "EBUSY" not in result.stderr and snapshot(finished_run) == before


def test_export_overwrite_replaces_only_a_folder_s2sa_wrote(finished_run, tmp_path):
    mine = tmp_path / "mine"
    (mine / "notes").mkdir(parents=True)
    (mine / "notes" / "thesis.tex").write_text("years of work\n")
    before = snapshot(mine)
    result, seconds = timed(["export-adapter", str(finished_run), "--output", str(mine), "--overwrite"])
    assert_one_line_error(result, "--output", str(mine), "holds files s2sa did not write", "empty it yourself")
    assert snapshot(mine) == before and seconds < FAST

    link = tmp_path / "link"
    link.symlink_to(mine, target_is_directory=True)
    result, _ = timed(["export-adapter", str(finished_run), "--output", str(link), "--overwrite"])
    assert_one_line_error(result, "--output", str(link), "is a symbolic link")
    assert link.is_symlink() and snapshot(mine) == before

    export = tmp_path / "export"  # an export s2sa wrote is replaced as before
    for _ in range(2):
        result = run_cli(["export-adapter", str(finished_run), "--output", str(export), "--overwrite"])
        assert result.returncode == 0, result.stderr[-2000:]
    assert (export / ".s2sa").is_file() and (export / "s2sa.json").is_file()
    (export / ".s2sa").unlink()  # written by an older s2sa: s2sa.json and the model card mark it
    result = run_cli(["export-adapter", str(finished_run), "--output", str(export), "--overwrite"])
    assert result.returncode == 0, result.stderr[-2000:]


def test_train_overwrite_refuses_a_folder_of_user_files(tiny_bert, dialog_jsonl, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "photo.jpg").write_bytes(b"\xff\xd8")
    args = ["train", "--encoder", str(tiny_bert), "--decoder", str(tiny_bert), "--data", str(dialog_jsonl), "--max-steps", "1"]
    result, seconds = timed([*args, "--output-dir", str(mine), "--overwrite"])
    assert_one_line_error(result, "--output-dir", str(mine), "holds files s2sa did not write")
    assert (mine / "photo.jpg").read_bytes() == b"\xff\xd8" and seconds < FAST


def held(folder: Path) -> int:
    """Lock `folder` as a running s2sa command does (flock on the folder itself); the caller closes the fd."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def test_a_second_writer_is_refused(finished_run, tiny_bert, dialog_jsonl, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    before = snapshot(run)
    fd = held(run)
    try:
        args = ["train", "--encoder", str(tiny_bert), "--decoder", str(tiny_bert), "--data", str(dialog_jsonl), "--max-steps", "1"]
        result, seconds = timed([*args, "--output-dir", str(run), "--overwrite"])
        assert_one_line_error(result, "--output-dir", str(run), "is being written by another s2sa command")
        assert snapshot(run) == before and seconds < FAST

        result = run_cli(["export-adapter", str(finished_run), "--output", str(run), "--overwrite"])
        assert_one_line_error(result, "--output", str(run))
        assert snapshot(run) == before

        (run / "run.json").unlink()  # so that --resume has work to do
        before = snapshot(run)
        result, seconds = timed(["train", "--resume", str(run)])
        assert_one_line_error(result, "--resume", str(run), "is being written by another s2sa command")
        assert snapshot(run) == before and seconds < FAST
    finally:
        os.close(fd)

    export = tmp_path / "export"
    assert run_cli(["export-adapter", str(finished_run), "--output", str(export)]).returncode == 0
    before = snapshot(export)
    fd = held(export)
    try:
        result = run_cli(["export-adapter", str(finished_run), "--output", str(export), "--overwrite"])
        assert_one_line_error(result, "--output", str(export), "is being written by another s2sa command")
        assert snapshot(export) == before

        eval_dir = tmp_path / "eval"
        eval_dir.mkdir()
        fd2 = held(eval_dir)
        try:
            result = run_cli(["eval", str(finished_run), "--split", "validation", "--max-samples", "2", "--output-dir", str(eval_dir)])
            assert_one_line_error(result, "--output-dir", str(eval_dir), "is being written by another s2sa command")
            assert not any(eval_dir.iterdir())
        finally:
            os.close(fd2)
    finally:
        os.close(fd)


HOLDER = """import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
print("held", flush=True)
time.sleep(120)
"""


def test_a_lock_dies_with_its_process(finished_run, tmp_path):
    """A killed command leaves no stale lock: flock is released by the kernel when its holder exits."""
    export = tmp_path / "export"
    export.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(export)], stdout=subprocess.PIPE, text=True
    )  # a command that holds the folder, then is killed
    assert holder.stdout.readline().strip() == "held"
    assert_one_line_error(run_cli(["export-adapter", str(finished_run), "--output", str(export)]), "is being written by another s2sa command")
    holder.kill()
    holder.wait()
    result = run_cli(["export-adapter", str(finished_run), "--output", str(export)])
    assert result.returncode == 0, result.stderr[-2000:]
    assert (export / "s2sa.json").is_file()


def test_reading_a_run_while_it_is_written_is_refused_and_the_other_way_round(finished_run, tiny_bert, dialog_jsonl, tmp_path):
    """eval, summarize and export-adapter read a run under a shared lock: while a train writes it (still training,
    or --overwrite replacing it) they are refused in one line, and a train --overwrite of a run being read is too."""
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    fd = held(run)  # as `s2sa train` holds its run
    try:
        for args in (["eval", str(run), "--split", "validation", "--max-samples", "2", "--output-dir", str(tmp_path / "eval")],
                     ["summarize", str(run), str(dialog_jsonl)],
                     ["export-adapter", str(run), "--output", str(tmp_path / "export")]):
            assert_one_line_error(run_cli(args), str(run), "is being written by another s2sa command (a run still training")
        assert not (tmp_path / "eval").exists() and not (tmp_path / "export").exists()
    finally:
        os.close(fd)
    fd = os.open(run, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # as eval holds the run it reads
    try:
        before = snapshot(run)
        args = ["train", "--encoder", str(tiny_bert), "--decoder", str(tiny_bert), "--data", str(dialog_jsonl), "--max-steps", "1"]
        assert_one_line_error(run_cli([*args, "--output-dir", str(run), "--overwrite"]), "--output-dir", str(run), "or read by eval")
        assert snapshot(run) == before
        result = run_cli(["export-adapter", str(run), "--output", str(tmp_path / "export")])  # readers share
        assert result.returncode == 0, result.stderr[-2000:]
    finally:
        os.close(fd)
