"""Opening a study's storage: the journal file by default, database URLs through Optuna's RDB storage; an unknown
kind, a missing driver or an unreachable database is one line, with no password in it."""

from __future__ import annotations

import builtins

import pytest
from optuna.storages import JournalStorage, RDBStorage

from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.tuning.storage import JOURNAL_FILE, open_storage, shown_url


def test_the_default_is_a_journal_file_in_the_tune_folder(tmp_path):
    assert isinstance(open_storage(None, tmp_path), JournalStorage)
    import optuna

    optuna.create_study(storage=open_storage(None, tmp_path), study_name="s")
    assert (tmp_path / JOURNAL_FILE).is_file()


def test_a_sqlite_url_is_an_rdb_storage_with_heartbeats(tmp_path):
    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}", tmp_path)
    assert isinstance(storage, RDBStorage) and storage.get_heartbeat_interval() is not None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("study.db", "is not a database URL"),
        ("redis://localhost/0", "unknown database 'redis'"),
        ("sqlite:////no/such/folder/study.db", "cannot be reached"),
        ("sqlite://", "is a database in memory"),  # accepted: the study vanished with the worker, heartbeats failed loudly
        ("sqlite:///:memory:", "is a database in memory"),
    ],
)
def test_an_unusable_storage_is_one_line(tmp_path, url, message):
    with pytest.raises(S2SAError, match=message) as info:
        open_storage(url, tmp_path)
    assert "\n" not in str(info.value)


def test_a_missing_driver_names_the_extra_that_installs_it(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_psycopg(name, *args, **kwargs):
        if name == "psycopg":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_psycopg)
    with pytest.raises(S2SAError, match=r"needs the psycopg driver: pip install 'seq2seq_adapters\[postgres\]'") as info:
        open_storage("postgresql://me:secret@localhost/db", tmp_path)
    assert "secret" not in str(info.value)


def test_an_unreachable_server_is_named_without_its_password(tmp_path):
    pytest.importorskip("psycopg")
    with pytest.raises(S2SAError, match=r"postgresql://me:\*\*\*@127.0.0.1:9/db cannot be reached") as info:
        open_storage("postgresql://me:secret@127.0.0.1:9/db", tmp_path)
    assert "secret" not in str(info.value)


def test_shown_url_hides_only_the_password():
    assert shown_url("postgresql://me:pw@host:5432/db") == "postgresql://me:***@host:5432/db"
    assert shown_url("postgresql://me@host/db") == "postgresql://me@host/db"
    assert shown_url("sqlite:///a:b.db") == "sqlite:///a:b.db"
