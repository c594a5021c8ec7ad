"""The run folder as one object: its paths, the old settings file name, old runs' settings, and the new-run
output-folder guard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seq2seq_adapters.config.schema import RunConfig
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import check_output_dir
from seq2seq_adapters.layout.run_folder import RunDir


def make_run(root: Path, config_name: str) -> RunDir:
    (root / "adapter").mkdir(parents=True)
    (root / "checkpoints" / "checkpoint-2" / "adapter").mkdir(parents=True)
    (root / config_name).write_text(json.dumps({"train": {"max_steps": 2}}))
    return RunDir(root)


@pytest.mark.parametrize("config_name", ["run_config.json", "config.json"])
def test_a_run_is_found_from_its_adapters_under_either_settings_name(tmp_path, config_name):
    run = make_run(tmp_path / "run", config_name)
    assert run.saved_config == run.root / config_name
    assert run.read_config().train.max_steps == 2
    assert RunDir.of_artifact(run.adapter) == (run, True)
    assert RunDir.of_artifact(run.checkpoints / "checkpoint-2" / "adapter") == (run, False)
    assert RunDir.of_artifact(tmp_path) == (None, False)


@pytest.mark.parametrize(("saved", "read"), [({}, None), ({"hidden_dropout": 0.0}, 0.0), ({"hidden_dropout": 0.1}, 0.1)])
def test_runs_saved_before_hidden_dropout_resume_with_the_checkpoints(tmp_path, saved, read):
    """A run_config.json without the key trained with the checkpoint's dropout; the new default 0 must not change it."""
    run = make_run(tmp_path / "run", "run_config.json")
    run.config.write_text(json.dumps({"model": saved, "train": {"max_steps": 2}}))
    assert run.read_config().model.hidden_dropout == read


@pytest.mark.parametrize(("saved", "read"), [({}, "train"), ({"encoder_marker_rows": "frozen"}, "frozen"), ({"encoder_marker_rows": "train"}, "train")])
def test_runs_saved_before_encoder_marker_rows_resume_training_them(tmp_path, saved, read):
    """A run_config.json without the key trained the encoder's marker rows; the new default (frozen) must not change it."""
    run = make_run(tmp_path / "run", "run_config.json")
    run.config.write_text(json.dumps({"model": saved, "train": {"max_steps": 2}}))
    assert run.read_config().model.encoder_marker_rows == read


def test_new_runs_write_the_unambiguous_name_and_the_paths_are_named_once(tmp_path):
    run = RunDir(tmp_path)
    assert run.config.name == "run_config.json"  # never config.json: that is a transformers model config
    assert (run.record.name, run.adapter.name, run.checkpoints.name, run.metrics.name) == ("run.json", "adapter", "checkpoints", "metrics.jsonl")
    assert run.eval_dir("test") == tmp_path / "eval-test" and run.report("validation") == tmp_path / "rouge_validation.json"
    assert not run.is_run()


def test_a_malformed_settings_file_is_one_line(tmp_path):
    (tmp_path / "run_config.json").write_text("[1, 2]")
    with pytest.raises(S2SAError, match="is not a valid run config"):
        RunDir(tmp_path).read_config()


def test_the_guard_protects_the_current_folder_inputs_and_contents(tmp_path, monkeypatch):
    folder = tmp_path / "out"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "train.jsonl").write_text("{}\n")
    monkeypatch.chdir(folder)
    with pytest.raises(S2SAError, match="would replace the current directory"):
        check_output_dir(Path("."), overwrite=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(S2SAError, match=r"--output-dir out would replace --data out/data/train.jsonl, which it holds"):
        RunDir(Path("out")).check_new(True, RunConfig.from_dict({"data": {"data": "out/data/train.jsonl"}}))
    with pytest.raises(S2SAError, match="is not empty; pass --overwrite to replace it or --resume out"):
        RunDir(Path("out")).check_new(False, RunConfig())
    with pytest.raises(S2SAError, match="--output-dir out/data/train.jsonl is a file"):
        check_output_dir(Path("out/data/train.jsonl"), overwrite=True)
    with pytest.raises(S2SAError, match="--output-dir out holds files s2sa did not write; choose another folder or empty it yourself"):
        check_output_dir(Path("out"), overwrite=True)
    (folder / ".s2sa").write_text("")  # a folder s2sa wrote, nothing protected inside: allowed
    check_output_dir(Path("out"), overwrite=True)
    check_output_dir(tmp_path / "new", overwrite=False)
