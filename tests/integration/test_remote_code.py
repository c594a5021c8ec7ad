"""A checkpoint folder's own Python code runs only when the command line says --trust-remote-code.

A hostile base checkpoint is a tiny BERT whose folder carries code that writes a marker file when imported:
`auto_map` in config.json (transformers runs it with trust_remote_code=True), or `custom_generate/generate.py`
(transformers 4.57 imports it from any local folder, whatever trust_remote_code says). A run trained on a
clean checkpoint is pointed at it, its s2sa.json and run_config.json saying `"trust_remote_code": true` as
older s2sa saved them: every command refuses in one line naming the flag, writes nothing, and the marker
never appears. With the flag, the code runs (so the hostile folder is hostile indeed).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import assert_one_line_error, cli_env, run_cli, snapshot
from tiny import tiny_run_config, train_tiny


def point_at(run: Path, base: Path) -> Path:
    """Make every s2sa.json and the run_config.json of `run` name `base` and say trust_remote_code: true."""
    for path in [*run.rglob("s2sa.json"), run / "run_config.json"]:
        raw = json.loads(path.read_text())
        raw["model"].update(encoder=str(base), decoder=str(base), trust_remote_code=True)
        path.write_text(json.dumps(raw, indent=2))
    return run


@pytest.fixture(scope="module")
def clean_run(tiny_bert, dialog_jsonl, tmp_path_factory) -> Path:
    return train_tiny(tiny_run_config(tiny_bert, dialog_jsonl, tmp_path_factory.mktemp("remote-code") / "run", train={"save_steps": 1})).output_dir


@pytest.fixture
def hostile_run(clean_run, hostile, tmp_path) -> Path:
    """A copy of the clean run pointed at the hostile checkpoint, as an older s2sa saved it, not finished."""
    run = point_at(shutil.copytree(clean_run, tmp_path / "run"), hostile[0])
    (run / "run.json").unlink()  # so that --resume has work to do
    return run


def env(tmp_path: Path) -> dict[str, str]:
    """The CLI's environment, with transformers' copies of checkpoint code kept inside tmp_path."""
    return cli_env(HF_MODULES_CACHE=str(tmp_path / "hf-modules"))


def assert_refused(result, hostile: tuple[Path, Path]) -> None:
    assert_one_line_error(result, str(hostile[0]), "--trust-remote-code")
    assert not hostile[1].exists(), "the checkpoint's own code ran"


def test_eval_refuses(hostile_run, hostile, tmp_path):
    out = tmp_path / "eval-out"
    result = run_cli(["eval", str(hostile_run), "--split", "validation", "--output-dir", str(out)], env=env(tmp_path))
    assert_refused(result, hostile)
    assert not out.exists()


def test_summarize_refuses(hostile_run, hostile, tmp_path):
    document = tmp_path / "doc.txt"
    document.write_text("#Person1#: Hi, a table for two tonight? #Person2#: Sure, at seven.")
    out = tmp_path / "summaries.jsonl"
    result = run_cli(["summarize", str(hostile_run), str(document), "--output", str(out)], env=env(tmp_path))
    assert_refused(result, hostile)
    assert not out.exists()


@pytest.mark.parametrize("merge", [False, True], ids=["adapter", "merge"])
def test_export_refuses_and_writes_nothing(hostile_run, hostile, tmp_path, merge):
    out = tmp_path / "exports" / "export"
    result = run_cli(["export-adapter", str(hostile_run), "--output", str(out), *(["--merge"] if merge else [])], env=env(tmp_path))
    assert_refused(result, hostile)
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_resume_refuses_and_changes_nothing(hostile_run, hostile, tmp_path):
    before = snapshot(hostile_run)
    result = run_cli(["train", "--resume", str(hostile_run)], env=env(tmp_path))
    assert_refused(result, hostile)
    assert snapshot(hostile_run) == before


def test_a_new_run_on_the_checkpoint_refuses(hostile, dialog_jsonl, tmp_path):
    out = tmp_path / "new-run"
    base = str(hostile[0])
    result = run_cli(["train", "--encoder", base, "--decoder", base, "--data", str(dialog_jsonl), "--max-steps", "1", "--output-dir", str(out)], env=env(tmp_path))
    assert_refused(result, hostile)
    assert not out.exists()


@pytest.mark.parametrize("form", ["yaml", "dotted"])
def test_a_config_file_cannot_allow_code(form, hostile, dialog_jsonl, tmp_path):
    """`model.trust_remote_code` is not a setting: a YAML file or section.key=value stating it is refused."""
    out = tmp_path / "run"
    base = str(hostile[0])
    if form == "yaml":
        config = tmp_path / "config.yaml"
        config.write_text(f"model:\n  encoder: {base}\n  decoder: {base}\n  trust_remote_code: true\ndata:\n  data: {dialog_jsonl}\n")
        args = ["--config", str(config)]
    else:
        args = ["--encoder", base, "--decoder", base, "--data", str(dialog_jsonl), "model.trust_remote_code=true"]
    result = run_cli(["train", *args, "--output-dir", str(out)], env=env(tmp_path))
    assert_one_line_error(result, "model.trust_remote_code is not a setting", "--trust-remote-code")
    assert not hostile[1].exists() and not out.exists()


def test_the_flag_lets_the_code_run(hostile_run, hostile, tmp_path):
    """The fixture is hostile indeed: with the flag, transformers imports its code (and the run still summarises)."""
    document = tmp_path / "doc.txt"
    document.write_text("#Person1#: Hi, a table for two tonight? #Person2#: Sure, at seven.")
    result = run_cli(["summarize", str(hostile_run), str(document), "--trust-remote-code"], env=env(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert hostile[1].read_text() == "imported"


def test_an_old_run_that_says_trust_remote_code_still_loads_and_exports_without_it(clean_run, tiny_bert, tmp_path):
    from seq2seq_adapters import load_summarizer

    run = point_at(shutil.copytree(clean_run, tmp_path / "old-run"), tiny_bert)  # a clean base, an old file
    model, _ = load_summarizer(run)
    assert model is not None
    out = tmp_path / "export"
    result = run_cli(["export-adapter", str(run), "--output", str(out)], env=env(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "warning" not in result.stderr  # the retired key is dropped quietly
    assert "trust_remote_code" not in (out / "s2sa.json").read_text()
    model, _ = load_summarizer(out)
    assert model is not None
