"""Resume compares the run's saved settings with its checkpoint's: after run_config.json was edited (adapter,
leave_out, the --train policy), `train --resume` refuses in one line naming the setting, and changes nothing."""

from __future__ import annotations

import json

import pytest
from conftest import assert_one_line_error, run_cli, snapshot
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
    ],
)
def test_resume_after_an_edited_model_setting_is_refused(unfinished_run, tmp_path, key, value, needle):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(unfinished_run, run)
    config = json.loads((run / "run_config.json").read_text())
    config["model"][key] = value
    (run / "run_config.json").write_text(json.dumps(config))
    before = snapshot(run)
    assert_one_line_error(run_cli(["train", "--resume", str(run)]), "no longer describes the model its checkpoint trained", needle)
    assert snapshot(run) == before
