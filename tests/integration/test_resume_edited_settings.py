"""Resume compares the run's saved settings with its checkpoint's: after run_config.json was edited (adapter,
leave_out, the --train policy, the optimizer or its schedule), `train --resume` refuses in one line naming the
setting, and changes nothing; data that changed since the checkpoint are reported, and the run goes on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import assert_one_line_error, run_cli, run_python, snapshot
from tiny import tiny_run_config, train_tiny


@pytest.fixture(scope="module")
def unfinished_run(tiny_bert, dialog_jsonl, tmp_path_factory):
    """A tiny run with a complete checkpoint and no run.json: one that --resume continues."""
    run = train_tiny(tiny_run_config(tiny_bert, dialog_jsonl, tmp_path_factory.mktemp("resume") / "run", train={"save_steps": 1})).output_dir
    (run / "run.json").unlink()
    return run


@pytest.mark.parametrize(
    "key, value, needle",
    [
        ("adapter_config", "seq_bn", "model.adapter_config: 'seq_bn' in run_config.json"),
        ("leave_out", [], "model.leave_out: [] in run_config.json, [0] in checkpoint-2"),
        ("train", "adapter", "model.train: 'adapter' in run_config.json, 'adapter,head' in checkpoint-2"),
        ("train.optim", "adafactor", "train.optim: 'adafactor' in run_config.json, 'adamw_torch' in checkpoint-2"),
        ("train.lr_scheduler", "cosine", "train.lr_scheduler: 'cosine' in run_config.json, 'linear' in checkpoint-2"),
    ],
)
def test_resume_after_an_edited_setting_is_refused(unfinished_run, tmp_path, key, value, needle):
    run = tmp_path / "run"
    shutil.copytree(unfinished_run, run)
    config = json.loads((run / "run_config.json").read_text())
    section, name = key.split(".") if "." in key else ("model", key)
    config[section][name] = value
    (run / "run_config.json").write_text(json.dumps(config))
    before = snapshot(run)
    assert_one_line_error(run_cli(["train", "--resume", str(run)]), "no longer describes what its checkpoint trained", needle)
    assert snapshot(run) == before


def test_resume_on_changed_data_says_so_and_goes_on(unfinished_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(unfinished_run, run)
    config = json.loads((run / "run_config.json").read_text())
    rows = Path(config["data"]["data"]).read_text().splitlines()
    changed = tmp_path / "dialogs.jsonl"
    changed.write_text("\n".join(rows[:-1]) + "\n")  # one dialogue fewer
    config["data"]["data"] = str(changed)
    (run / "run_config.json").write_text(json.dumps(config))
    result = run_cli(["train", "--resume", str(run)])
    assert result.returncode == 0, result.stderr[-2000:]
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning:") and "training data differ" in line]
    assert len(warning) == 1 and "from those checkpoint-2 trained on" in warning[0], result.stderr[-2000:]


READ_ONLY_LAUNCHER = """
import os, runpy, sys
run = os.path.realpath(sys.argv[-1])
real_access = os.access
os.access = lambda path, mode, *a, **k: False if os.path.realpath(path) == run and mode & os.W_OK else real_access(path, mode, *a, **k)
runpy.run_module("seq2seq_adapters", run_name="__main__", alter_sys=True)
"""
"""The CLI with the run folder unwritable as on a read-only file system (root writes anywhere, so access() says it)."""


def test_resume_on_a_read_only_file_system_is_one_line_and_changes_nothing(unfinished_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(unfinished_run, run)
    before = snapshot(run)
    result = run_python(["-c", READ_ONLY_LAUNCHER, "train", "--resume", str(run)])
    assert_one_line_error(result, f"--resume {run}: cannot write in it (read-only file system, or no permission)")
    assert snapshot(run) == before
