"""Where a tune's study lives: Optuna's own storages, opened with one-line errors.

By default Optuna's journal file in the tune folder (no server; several workers on one machine, or on machines
that share the folder, append to it under a lock). `--storage URL` takes any database Optuna's RDB storage
takes (sqlite:///, postgresql://, mysql://); those workers send heartbeats, so a trial whose worker died is
failed and retried by Optuna (RetryHeartbeatStaleTrialCallback) once its heartbeat is `GRACE_PERIOD_S` old.
"""

from __future__ import annotations

import contextlib
import re
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import optuna
import sqlalchemy
from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend

from seq2seq_adapters.core.errors import S2SAError

JOURNAL_FILE = "study.journal"
"""The default storage: Optuna's journal file inside the tune folder."""
HEARTBEAT_S, GRACE_PERIOD_S = 60, 300
"""A database worker's heartbeat (a thread beside training), and how old it may get before its running trial
counts as dead: five beats missed, so a busy machine is not mistaken for a dead one."""
DRIVERS = {"postgresql": ("psycopg", "'seq2seq_adapters[postgres]'"), "postgresql+psycopg": ("psycopg", "'seq2seq_adapters[postgres]'"),
           "postgresql+psycopg2": ("psycopg2", "psycopg2-binary"), "mysql": ("MySQLdb", "mysqlclient"), "mysql+pymysql": ("pymysql", "pymysql")}
"""URL scheme -> (the module SQLAlchemy 2.1 imports for it, what `pip install` takes to bring it)."""
CREATE_ATTEMPTS = 3
"""Workers that open a new database at the same moment race to create Optuna's tables (alembic's version row is
unique): the losers open it again once the tables exist."""
URL = re.compile(r"^[a-z][a-z0-9+]*://")


@contextlib.contextmanager
def quiet_experimental() -> Iterator[None]:
    """Optuna marks the parts s2sa uses (heartbeats, retries, matplotlib plots) experimental and warns at each use;
    s2sa pins Optuna's major version and tests each of them, so the warnings say nothing to its users."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


with quiet_experimental():
    RETRY = RetryHeartbeatStaleTrialCallback(max_retry=3, inherit_intermediate_values=True)
"""The one way a trial is queued again: after its worker died (heartbeat or pid) or was interrupted. The retry
keeps the evaluations reported so far (and the pruner's marks of them), so it is pruned as the trial would have been."""


def shown_url(url: str) -> str:
    """The URL without its password, for messages and records."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def is_url(target: str) -> bool:
    return bool(URL.match(target))


@contextlib.contextmanager
def damaged_journal(path: Path) -> Iterator[None]:
    """Optuna reading a journal file whose lines were edited or corrupted (its JSON, or an operation it cannot
    replay) becomes one line naming the file. A last line cut short is not damage: Optuna skips it as a write
    still under way."""
    try:
        yield
    except (ValueError, IndexError, TypeError, AttributeError, AssertionError) as exc:  # not KeyError: Optuna's "no such study"
        if not path.is_file():
            raise
        raise S2SAError(f"{path} is damaged ({type(exc).__name__}: {str(exc).splitlines()[0][:150] if str(exc) else ''}); "
                        "restore it from a copy of the tune folder, or start a new tune in another folder") from None


def sqlite_file(url: str) -> str | None:
    """The database file of a sqlite URL ('' for one in memory: `sqlite://`, `sqlite:///:memory:`), None for other URLs."""
    if not url.startswith("sqlite:"):
        return None
    path = url.split("://", 1)[1][1:].split("?", 1)[0]
    return "" if path in ("", ":memory:") else path


def open_storage(url: str | None, tune_dir: Path) -> optuna.storages.BaseStorage:
    """The storage `--storage` names (None: the journal file in `tune_dir`), reached now: an unreachable server,
    a missing driver or an unknown kind of URL is one line here, before anything trains."""
    if url is None:
        with damaged_journal(tune_dir / JOURNAL_FILE):  # Optuna replays the whole file as it opens it
            return JournalStorage(JournalFileBackend(str(tune_dir / JOURNAL_FILE)))
    if not is_url(url):
        raise S2SAError(f"--storage {url!r} is not a database URL (sqlite:///path, postgresql://user@host/db, mysql://...); "
                        "leave it out to keep the study in the tune folder")
    scheme = url.split("://", 1)[0]
    if scheme != "sqlite" and scheme not in DRIVERS:
        raise S2SAError(f"--storage {shown_url(url)}: unknown database {scheme!r}; use sqlite, postgresql or mysql")
    if sqlite_file(url) == "":
        raise S2SAError(f"--storage {shown_url(url)} is a database in memory, which ends with the worker (no other worker, "
                        "continued tune or --report can read it); name a file: sqlite:///study.db")
    module, requirement = DRIVERS.get(scheme, (None, None))
    if module is not None:
        try:
            __import__(module)
        except ImportError:
            raise S2SAError(f"--storage {shown_url(url)} needs the {module} driver: pip install {requirement}") from None
    for attempt in range(CREATE_ATTEMPTS):
        try:
            with quiet_experimental():
                return RDBStorage(url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_PERIOD_S, heartbeat_stale_trial_callback=RETRY)
        except sqlalchemy.exc.IntegrityError:  # another worker created the tables at the same moment: they exist now
            if attempt + 1 < CREATE_ATTEMPTS:
                time.sleep(0.5)
                continue
            raise S2SAError(f"--storage {shown_url(url)}: its tables could not be created (other workers at the same moment?); start again") from None
        except Exception as exc:  # SQLAlchemy's OperationalError and ArgumentError, alembic's errors: all mean "not usable"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise S2SAError(f"--storage {shown_url(url)} cannot be reached: {first[:300]}") from None
