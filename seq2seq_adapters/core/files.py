"""The one writer of s2sa's outputs and its guards: atomic writes of regular files only, JSON lines, the output-file
and output-folder guards, the `.s2sa` marker of the folders s2sa writes, the lock of a folder being written,
full-disk errors."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from seq2seq_adapters.core.errors import S2SAError

MARKER = ".s2sa"
"""The small file s2sa writes into every folder it creates (run, export, eval output): `--overwrite` replaces
only a folder that holds it (or a legacy marker)."""
LEGACY_MARKERS = ("run_config.json", "run.json", "s2sa.json")
"""Files that older s2sa wrote into its run folders (run_config.json, run.json) and exports (s2sa.json)."""
MODEL_CARD_TAG = "seq2seq_adapters"
"""The tag of an export's model card (README.md): a merged export written by older s2sa has no other marker."""


def output_path(path: str | Path) -> Path:
    """`path` with `.` and `..` resolved (lexically, as os.path.normpath): `B/checkpoints/..` is checked, locked
    and written as `B`; a relative path stays relative."""
    return Path(os.path.normpath(path))


def special_kind(path: Path) -> str | None:
    """"a symbolic link", "a FIFO (named pipe)", "a character device"... when `path` is one, else None (a regular
    file, a folder or nothing): s2sa writes only regular files and never follows a link it is told to write."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    kinds = {stat.S_ISLNK: "a symbolic link", stat.S_ISFIFO: "a FIFO (named pipe)", stat.S_ISCHR: "a character device",
             stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket"}
    return next((name for test, name in kinds.items() if test(mode)), None)


def refuse_special(path: Path, flag: str | None, what: str = "regular files") -> None:
    """One error line when `path` is a symbolic link or a special file (FIFO, device, socket)."""
    if kind := special_kind(path):
        raise S2SAError(f"{f'{flag} ' if flag else ''}{path} is {kind}; s2sa writes only {what} and does not follow or replace links or special files: choose another path")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """The one writer of s2sa's output files: `data` to `path` so readers see the old file or the new one, never
    half, and only as a regular file (a symbolic link or a special file at `path` is refused, not replaced).

    Writes a temporary file in the same directory, fsyncs it, then os.replace()s it over
    `path`. Creates missing parent directories.
    """
    path = output_path(path)
    refuse_special(path, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` through `atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    """Atomically write `obj` as indented UTF-8 JSON with a trailing newline."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append `record` as one JSON line (a single write), creating the file and parents; like every write of s2sa's,
    only to a regular file: a link or special file put in its place is refused, not followed or fed (a FIFO
    without a reader would block the run)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    refuse_special(path, None)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENXIO):  # a link or FIFO that appeared since the check
            raise
        raise S2SAError(f"{path} is a symbolic link or special file; s2sa writes only regular files") from None
    try:
        os.write(fd, (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
    finally:
        os.close(fd)


NAME_MAX = 255
"""The longest file name (bytes, one part of a path) Linux file systems take."""


def too_long(path: Path) -> str | None:
    """"has a name longer than 255 bytes" when a part of `path` is: every look at such a path (exists, is_dir)
    raises ENAMETOOLONG, which Python's Path checks pass on as a traceback."""
    if any(len(os.fsencode(part)) > NAME_MAX for part in Path(path).parts):
        return f"has a name longer than the {NAME_MAX} bytes a file name may have"
    return None


def wrong_kind(path: Path, want_folder: bool) -> str | None:
    """"is a folder, not a file" (or the reverse) when `path` exists as the other kind, else None:
    for the messages of paths that must be files or folders, which would otherwise say "not found"
    (or that a name is too long to look at)."""
    path = Path(path)
    if problem := too_long(path):
        return problem
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
    A symbolic link is refused (not followed), and --overwrite replaces only a folder s2sa wrote (`written_by_s2sa`).
    Writes and deletes nothing (cheap: commands call it before loading anything)."""
    path = output_path(path)
    if problem := wrong_kind(path, want_folder=True):
        raise S2SAError(f"{flag} {path} {problem}")
    check_creatable(path, flag)
    refuse_special(path, flag, "folders it creates")
    for what, folder in (outside or {}).items():
        if _inside(path, folder) and not (replaced and _inside(folder, path)):  # replaced: "would replace" below
            raise S2SAError(f"{flag} {path} is inside {what}; choose a folder outside it")
    if not (replaced and path.is_dir()):
        return
    for what, inside in {"the current directory": Path.cwd(), **(protected or {})}.items():
        if _inside(inside, path):
            raise S2SAError(f"{flag} {path} would replace {what}, which it holds; choose another {flag}")
    if not folder_contents(path):
        return
    if not overwrite:
        raise S2SAError(f"{flag} {path} is not empty; pass --overwrite to replace it{alternative}")
    if not written_by_s2sa(path):
        raise S2SAError(f"{flag} {path} holds files s2sa did not write; choose another folder or empty it yourself")


def check_output_file(path: Path | None, flag: str, inputs: Iterable[str | Path] = ()) -> None:
    """The guard of an output file (`summarize --output`, `eval --compare --markdown`): not a folder, in a place
    it can create, not one of the command's `inputs` and not an existing file inside an input folder (a run's
    s2sa.json or run.json); checked before any work, not after it."""
    if path is None:
        return
    path = output_path(path)
    if problem := wrong_kind(path, want_folder=False):
        raise S2SAError(f"{flag} {path} {problem}")
    check_creatable(path, flag)
    refuse_special(path, flag)
    for item in map(Path, inputs):
        if item.is_file() and item.resolve() == path.resolve():
            raise S2SAError(f"{flag} {path} is also an input; choose another {flag}")
        if item.is_dir() and path.exists() and _inside(path, item):
            raise S2SAError(f"{flag} {path} would replace a file of {item}, which the command reads; choose another {flag}")


def check_creatable(path: Path, flag: str) -> None:
    """The nearest existing folder above `path` is a folder this process may write in, and no part of the way
    there is a symbolic link that leads nowhere (mkdir would fail on it after other work)."""
    if problem := too_long(path):
        raise S2SAError(f"{flag} {path} {problem}")
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


def folder_contents(path: Path) -> list[Path]:
    """The entries of a folder except s2sa's marker: a folder holding only the marker counts as empty."""
    return [entry for entry in Path(path).iterdir() if entry.name != MARKER]


def written_by_s2sa(folder: Path) -> bool:
    """Whether `folder` is one s2sa wrote: it holds the `.s2sa` marker, or a legacy one (a run's run_config.json or
    run.json, an export's s2sa.json, a merged export's model card)."""
    folder = Path(folder)
    if any((folder / name).is_file() and not (folder / name).is_symlink() for name in (MARKER, *LEGACY_MARKERS)):
        return True
    card = folder / "README.md"
    with contextlib.suppress(OSError, UnicodeDecodeError):
        return card.is_file() and MODEL_CARD_TAG in card.read_text(encoding="utf-8")
    return False


def mark_as_written(folder: Path) -> None:
    """Write the `.s2sa` marker into a folder s2sa creates (a run, an export, an eval output)."""
    atomic_write_text(Path(folder) / MARKER, "written by s2sa (seq2seq_adapters); `--overwrite` may replace this folder\n")


def empty_folder(folder: Path) -> None:
    """Delete what a folder s2sa wrote holds, but not the folder itself (its lock) nor its marker."""
    for entry in folder_contents(folder):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


@contextlib.contextmanager
def writing_folder(path: str | Path, flag: str) -> Iterator[Path]:
    """Hold the folder `path` (created if missing) for the block: a second s2sa command writing it is refused in one
    line. The lock is `fcntl.flock` on the folder itself, non-blocking; the kernel drops it when the process ends,
    so a killed command leaves no stale lock. The folders this block created (the parents too, such as `runs/`) are
    removed again if the block fails while they are still empty. Yields the path with `..` resolved (`output_path`),
    the one to write."""
    path = output_path(path)
    refuse_special(path, flag, "folders it creates")
    created = [folder for folder in (path, *path.parents) if not folder.exists()]  # deepest first
    path.mkdir(parents=True, exist_ok=True)
    busy = (f"{flag} {path} is being written by another s2sa command (or read by eval, summarize or export-adapter); "
            f"wait for it to finish or choose another {flag}")
    with folder_lock(path, fcntl.LOCK_EX, busy):
        try:
            yield path
        except BaseException:
            for folder in created:
                try:
                    folder.rmdir()  # only when still empty
                except OSError:
                    break
            raise


@contextlib.contextmanager
def reading_folder(path: str | Path, what: str) -> Iterator[None]:
    """Hold the folder `path` for reading for the block (a shared `flock`, beside `writing_folder`'s exclusive one):
    while an s2sa command writes it (a run still training, `--overwrite` replacing it) reading is refused in one
    line, and a writer that comes while it is read is refused; readers do not block each other."""
    busy = f"{what} {path} is being written by another s2sa command (a run still training, or --overwrite replacing it); wait for it to finish"
    with folder_lock(path, fcntl.LOCK_SH, busy):
        yield


@contextlib.contextmanager
def folder_lock(path: Path, mode: int, busy: str) -> Iterator[None]:
    """`fcntl.flock` (`mode`: shared or exclusive) on the folder itself, non-blocking, for the block; `busy` is the
    error when another process holds it the other way. The kernel drops it when the process ends."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            raise S2SAError(busy) from None
        yield
    finally:
        os.close(fd)


def check_cache_folder(folder: Path, moved_by: str) -> None:
    """Create `folder` and write a probe file in it: a cache that cannot be written (a read-only $HOME or HF_HOME)
    is named in one line, with the setting that moves it (`moved_by`), instead of being blamed on the data."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise S2SAError(f"cannot write the cache folder {folder} ({exc.strerror or exc}); {moved_by}") from None


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


UNWRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


@contextlib.contextmanager
def naming_a_refused_write() -> Iterator[None]:
    """A write the system refuses (a read-only file system, no permission) becomes one error line naming the path,
    instead of a traceback from wherever it happened (the CLI's net under every command, beside the full disk's)."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in UNWRITABLE:
            raise
        raise S2SAError(f"the system refused {exc.filename or 'a file'}: {exc.strerror}") from None


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
