"""What the hostile-input sweep of 2026-12-07 (docs/studies/hostile-sweep-2026-12-07.md) found, through the real CLI:
a damaged tune folder is named in one line and left as it was, a study name places no folder, names too long to
look at and durations too long to count are one line, and a trial that fails prints no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from conftest import assert_one_line_error, run_cli, snapshot
from tiny import tiny_tune_files

from seq2seq_adapters.core.files import mark_as_written
from seq2seq_adapters.tuning.storage import JOURNAL_FILE, open_storage


@pytest.fixture(scope="module")
def inputs(tiny_bert, dialog_jsonl, tmp_path_factory) -> tuple[Path, Path]:
    return tiny_tune_files(tiny_bert, dialog_jsonl, tmp_path_factory.mktemp("tune-inputs"))


def tune_args(inputs: tuple[Path, Path], *extra: str) -> list[str]:
    return ["tune", "--config", str(inputs[0]), "--space", str(inputs[1]), "--trials", "1", *extra]


def tune_folder(folder: Path) -> Path:
    """A tune folder as s2sa leaves it before its first trial: the marker, tune.json and a journal of two lines."""
    folder.mkdir()
    mark_as_written(folder)
    (folder / "tune.json").write_text(json.dumps({"study": "s2sa-tune", "storage": None, "space": {}, "config": {}}))
    study = optuna.create_study(storage=open_storage(None, folder), study_name="s2sa-tune", direction="maximize")
    study.set_user_attr("s2sa:space", {})
    (folder / "trials").mkdir()
    return folder


DAMAGES = {
    "tune.json not JSON": (lambda f: (f / "tune.json").write_text('{"study": '), "tune.json is damaged: Expecting value"),
    "tune.json without a study": (lambda f: (f / "tune.json").write_text('{"space": {}, "config": {}}'), "tune.json is damaged: no study name"),
    "a journal line edited": (lambda f: (f / JOURNAL_FILE).write_text("{garbage\n" + (f / JOURNAL_FILE).read_text()), "study.journal is damaged (JSONDecodeError"),
    "the journal removed": (lambda f: (f / JOURNAL_FILE).unlink(), "has no study.journal"),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_report_names_a_damaged_tune_folder_and_writes_nothing(tmp_path, damage):
    """It used to say "not a tune folder", raise KeyError or JSONDecodeError, or create an empty journal."""
    folder = tune_folder(tmp_path / "tune")
    make_damage, message = DAMAGES[damage]
    make_damage(folder)
    before = snapshot(folder)
    assert_one_line_error(run_cli(["tune", "--report", str(folder)]), message)
    assert snapshot(folder) == before


@pytest.mark.parametrize("damage", ["tune.json not JSON", "trials/ a file", "trials/ a link"])
def test_a_damaged_tune_folder_is_not_continued(inputs, tmp_path, damage):
    """A damaged tune.json was taken for none (the tune went on); a trials/ file failed every trial and said done;
    a trials/ link wrote the trials elsewhere."""
    folder = tune_folder(tmp_path / "tune")
    (tmp_path / "elsewhere").mkdir()
    if damage == "tune.json not JSON":
        DAMAGES[damage][0](folder)
    else:
        (folder / "trials").rmdir()
        (folder / "trials").symlink_to(tmp_path / "elsewhere") if damage == "trials/ a link" else (folder / "trials").write_text("x")
    before = snapshot(folder)
    result = run_cli(tune_args(inputs, "--output-dir", str(folder)))
    assert_one_line_error(result, "tune.json is damaged" if damage == "tune.json not JSON" else "trials")
    assert snapshot(folder) == before and not any((tmp_path / "elsewhere").iterdir())


def test_report_of_a_sqlite_file_that_is_not_there_creates_none(tmp_path):
    assert_one_line_error(run_cli(["tune", "--report", f"sqlite:///{tmp_path / 'none.db'}"]), "no database file")
    assert not (tmp_path / "none.db").exists()


def test_a_study_name_does_not_place_the_default_folder_elsewhere(inputs, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    assert_one_line_error(run_cli(tune_args(inputs, "--study", "a/../../../x"), cwd=work), "would place the default tune folder")
    assert_one_line_error(run_cli(tune_args(inputs, "--study", "a" * 300), cwd=work), "a study name is 1 to 100")
    assert not any(work.iterdir()) and not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--output-dir", "{long}"],
        ["train", "--data", "{long}"],
        ["train", "--config", "{long}.yaml"],
    ],
)
def test_a_name_too_long_to_look_at_is_one_line(tmp_path, args):
    """ENAMETOOLONG from Path.exists used to end these with a traceback."""
    long = str(tmp_path / ("b" * 300))
    result = run_cli([arg.format(long=long) for arg in args])
    assert_one_line_error(result, "longer than the 255 bytes a file name may have")


def test_a_duration_too_long_to_count_is_one_line_before_training(tmp_path, tiny_bert, dialog_jsonl):
    """400 digits of seconds: an OverflowError after training had started."""
    result = run_cli(["train", "--encoder", str(tiny_bert), "--decoder", str(tiny_bert), "--data", str(dialog_jsonl),
                      "--max-time", "9" * 400 + "s", "--output-dir", str(tmp_path / "run")])
    assert_one_line_error(result, "train.max_time", "is longer than a year")
    assert not (tmp_path / "run").exists()


def test_a_failed_trial_is_one_line_without_optunas_traceback(inputs, tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text('space:\n  model.leave_out: {choices: ["9"]}\n')  # valid as a setting; no layer 9 in the tiny BERT
    result = run_cli(["tune", "--config", str(inputs[0]), "--space", str(space), "--trials", "1", "--output-dir", str(tmp_path / "tune")])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "trial 0 fail: --leave-out ids [9] exist in neither stack" in result.stderr
    assert "Traceback" not in result.stderr and "UserWarning" not in result.stderr, result.stderr[-2000:]
