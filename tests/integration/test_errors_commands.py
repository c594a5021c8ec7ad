"""Bad input to `s2sa eval`, `summarize` and `export-adapter` (issue 18): one `error:` line, exit 1, no traceback,
the run and every other earlier file unchanged, and, where marked, refused before torch is imported (so before
any model loads: the subprocess gets a `torch` that cannot be imported)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT, assert_one_line_error, cli_env, run_cli, snapshot
from tiny import tiny_run_config, train_tiny, write_jsonl


@dataclass
class Case:
    args: list[str]
    expected: list[str]
    watched: str = "run"  # the folder (under the case's tmp) that must stay as it was
    before_torch: bool = True


@pytest.fixture(scope="module")
def tmp(tmp_path_factory, tiny_bert, dialog_jsonl) -> Path:
    """A finished tiny run, its data as a split folder, and the odd files the cases point at."""
    tmp = tmp_path_factory.mktemp("command-errors")
    data = tmp / "data"
    data.mkdir()
    shutil.copy(dialog_jsonl, data / "train.jsonl")
    (data / "notes").mkdir()
    (data / "notes" / "keep.txt").write_text("precious\n")
    train_tiny(tiny_run_config(tiny_bert, data, tmp / "run", train={"max_steps": 1}))  # checkpoint-1
    shutil.copytree(tmp / "run", tmp / "bad-json")
    info = tmp / "bad-json" / "adapter" / "s2sa.json"
    info.write_text(json.dumps({**json.loads(info.read_text()), "generation": {"num_beams": "four"}}))
    for name, damage in {"cut-run": b"", "garbage-run": os.urandom(4000)}.items():  # `truncate -s 1000`, random bytes
        shutil.copytree(tmp / "run", tmp / name)
        weights = tmp / name / "adapter" / "adapter.safetensors"
        weights.write_bytes(weights.read_bytes()[:1000] if not damage else damage)
    shutil.copytree(tmp / "run", tmp / "unfinished")  # a run still training: no final adapter/ nor run.json yet
    shutil.rmtree(tmp / "unfinished" / "adapter")
    (tmp / "unfinished" / "run.json").unlink()
    (tmp / "test-only").mkdir()
    write_jsonl(tmp / "test-only" / "test.jsonl", [{"dialogue": "#Person1#: Hi. #Person2#: Hello.", "summary": "They greet."}])
    write_jsonl(tmp / "docs.jsonl", [{"text": "#Person1#: Shall we meet at 5 pm? #Person2#: Yes, at the station."}])
    (tmp / "summaries").mkdir()
    (tmp / "summaries" / "old.jsonl").write_text("{}\n")
    (tmp / "notes.txt").write_text("not a run\n")
    (tmp / "loop-a").symlink_to("loop-b")  # a symbolic link loop: exists() is False, mkdir fails with ELOOP
    (tmp / "loop-b").symlink_to("loop-a")
    no_torch = tmp / "no-torch" / "torch"
    no_torch.mkdir(parents=True)
    (no_torch / "__init__.py").write_text("raise ImportError('torch was imported before the cheap checks')\n")
    return tmp


CASES = {
    # eval: decoding settings from flags meet the run's saved ones under the same rules (defects 6, 11)
    "eval-min-above-max": Case(["eval", "run", "--min-new-tokens", "50", "--max-new-tokens", "5"], ["--min-new-tokens 50 is above --max-new-tokens 5"]),
    "eval-length-penalty-nan": Case(["eval", "run", "--length-penalty", "nan"], ["--length-penalty must be a finite number, got nan"]),
    "eval-beams-zero": Case(["eval", "run", "--num-beams", "0"], ["--num-beams must be at least 1, got 0"]),
    "eval-quantize-int4": Case(["eval", "run", "--quantize", "int4"], ["--quantize must be 'none' or 'int8', got 'int4'"]),
    # eval: data and paths before the model (defects 7, 18, 15)
    "eval-data-missing": Case(["eval", "run", "--data", "missing.jsonl"], ["data path not found: missing.jsonl"]),
    "eval-data-without-split": Case(["eval", "run", "--data", "test-only", "--split", "validation"], ["no validation split in test-only", "it has test", "--split"]),
    "eval-text-column-empty": Case(["eval", "run", "--data", "data", "--text-column", " "], ["--text-column must not be empty"]),
    "eval-output-dir-file": Case(["eval", "run", "--output-dir", "notes.txt"], ["--output-dir notes.txt is a file, not a folder"]),
    "eval-output-dir-under-file": Case(["eval", "run", "--output-dir", "notes.txt/eval"], ["--output-dir notes.txt/eval", "notes.txt is a file, not a folder"]),
    "eval-output-dir-in-adapter": Case(["eval", "run", "--split", "validation", "--output-dir", "run/adapter", "--overwrite"], ["--output-dir run/adapter is inside the run's adapter/"]),
    "eval-target-file": Case(["eval", "notes.txt"], ["notes.txt is a file, not a folder"]),
    # eval: a saved s2sa.json whose setting has the wrong type (defect 9)
    "eval-s2sa-json-type": Case(["eval", "bad-json"], ["bad-json/adapter/s2sa.json is corrupted: generation.num_beams must be int, got 'four'"], watched="bad-json"),
    "eval-truncated-weights": Case(["eval", "cut-run"], ["cut-run/adapter/adapter.safetensors is damaged or truncated"], watched="cut-run"),
    "eval-max-new-tokens-past-positions": Case(["eval", "run", "--split", "validation", "--max-new-tokens", "512", "--output-dir", "exp"], ["--max-new-tokens 512 is above the decoder's position limit: at most"], before_torch=False),
    "train-max-new-tokens-past-positions": Case(["train", "--data", "data", "--output-dir", "new-run", "--max-new-tokens", "512", "--max-steps", "1"], ["--max-new-tokens 512 is above the decoder's position limit"], before_torch=False),
    "eval-unfinished-run": Case(["eval", "unfinished"], ["unfinished is a run without its final adapter/", "e.g. unfinished/checkpoints/checkpoint-1"], watched="unfinished"),
    # summarize: the output is checked before any summary is generated (defects 8, 15)
    "summarize-output-folder": Case(["summarize", "run", "docs.jsonl", "--output", "summaries"], ["--output summaries is a folder, not a file"], watched="summaries"),
    "summarize-output-is-input": Case(["summarize", "run", "docs.jsonl", "--output", "docs.jsonl"], ["--output docs.jsonl is also an input"]),
    "summarize-output-over-the-run": Case(["summarize", "run", "docs.jsonl", "--output", "run/adapter/s2sa.json"], ["--output run/adapter/s2sa.json would replace a file of run, which the command reads"]),
    "compare-markdown-over-the-run": Case(["eval", "--compare", "run", "cut-run", "--split", "validation", "--markdown", "run/run.json"], ["--markdown run/run.json would replace a file of run"]),
    "summarize-input-folder": Case(["summarize", "run", "summaries"], ["input file summaries is a folder, not a file"], watched="summaries"),
    "summarize-empty-file-name": Case(["summarize", "run", ""], ["an input file name is empty; name a file, or - for stdin"]),
    "eval-split-empty": Case(["eval", "run", "--split", ""], ["--split must not be empty"]),
    "summarize-quantize-int4": Case(["summarize", "run", "docs.jsonl", "--quantize", "int4"], ["--quantize must be 'none' or 'int8', got 'int4'"]),
    "summarize-garbage-weights": Case(["summarize", "garbage-run", "docs.jsonl"], ["garbage-run/adapter/adapter.safetensors is damaged or truncated"], watched="garbage-run"),
    "summarize-min-above-max": Case(["summarize", "run", "docs.jsonl", "--max-new-tokens", "0"], ["--max-new-tokens must be at least 1, got 0"]),
    # export-adapter: the one output guard (defects 4, 13, 15), every check before torch (defect 18)
    "export-over-data": Case(["export-adapter", "run", "--output", "data", "--overwrite"], ["--output data would replace --data", "which it holds"], watched="data"),
    "export-over-current-dir": Case(["export-adapter", "run", "--output", ".", "--overwrite"], ["--output . would replace the current directory"], watched="data"),
    "export-inside-adapter": Case(["export-adapter", "run", "--output", "run/adapter/exp"], ["--output run/adapter/exp is inside the run's adapter/"]),
    "export-inside-checkpoints": Case(["export-adapter", "run", "--output", "run/checkpoints/exp"], ["is inside the run's checkpoints/"]),
    "export-run-is-file": Case(["export-adapter", "notes.txt", "--output", "exp"], ["notes.txt is a file, not a folder"]),
    "export-run-missing": Case(["export-adapter", "no-such-run", "--output", "exp"], ["run folder not found: no-such-run"]),
    "export-checkpoint-missing": Case(["export-adapter", "run", "--output", "exp", "--checkpoint", "7"], ["checkpoint-7 does not exist", "complete checkpoints: checkpoint-1"]),
    "export-checkpoint-negative": Case(["export-adapter", "run", "--output", "exp", "--checkpoint", "-1"], ["--checkpoint '-1': expected best, last or a step number"]),
    "export-output-is-file": Case(["export-adapter", "run", "--output", "notes.txt", "--overwrite"], ["--output notes.txt is a file, not a folder"]),
    "export-output-exists": Case(["export-adapter", "run", "--output", "summaries"], ["--output summaries is not empty; pass --overwrite"], watched="summaries"),
    "export-truncated-weights": Case(["export-adapter", "cut-run", "--output", "exp"], ["cut-run/adapter/adapter.safetensors is damaged or truncated"], watched="cut-run"),
    "export-garbage-weights": Case(["export-adapter", "garbage-run", "--output", "exp"], ["garbage-run/adapter/adapter.safetensors is damaged or truncated"], watched="garbage-run"),
    "export-quantize-int4": Case(["export-adapter", "run", "--output", "exp", "--quantize", "int4"], ["--quantize must be 'none' or 'int8', got 'int4'"]),
    "export-merge-quantize": Case(["export-adapter", "run", "--output", "exp", "--merge", "--quantize", "int8"], ["--quantize int8 is recorded", "a --merge export is a plain transformers model"]),
    "export-merge-unmergeable": Case(["export-adapter", "run", "--output", "exp", "--merge"], ["--merge: the adapter", "cannot be merged"], before_torch=False),
    # symbolic links that lead nowhere: named as such, not "not on the Hub" or a traceback from mkdir
    "train-output-in-link-loop": Case(["train", "--data", "data", "--output-dir", "loop-a/run"], ["--output-dir loop-a/run", "loop-a is a symbolic link that leads nowhere"]),
    "eval-output-link-loop": Case(["eval", "run", "--data", "data", "--output-dir", "loop-b"], ["--output-dir loop-b", "loop-b is a symbolic link that leads nowhere"]),
    "eval-data-link-loop": Case(["eval", "run", "--data", "loop-a"], ["data path not found: loop-a (a symbolic link that leads nowhere: broken, or a loop)"]),
    # train: a data folder without a train file (defect 7)
    "train-data-without-train": Case(["train", "--data", "test-only", "--output-dir", "new-run"], ["no train split in test-only", "it has test"], watched="test-only"),
}  # fmt: skip


@pytest.fixture(scope="module")
def outcomes(tmp) -> dict[str, tuple[subprocess.CompletedProcess, dict, dict]]:
    """Run every case (a few at a time), with the watched folder's contents before and after."""

    def run(name: str):
        case = CASES[name]
        watched = tmp / case.watched
        before = snapshot(watched)
        env = cli_env(**({"PYTHONPATH": f"{tmp / 'no-torch'}{os.pathsep}{ROOT}"} if case.before_torch else {}))
        result = run_cli(case.args, env=env, cwd=tmp)
        return result, before, snapshot(watched)

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(CASES, pool.map(run, CASES)))


@pytest.mark.parametrize("name", CASES)
def test_bad_input_to_a_command_fails_with_one_clear_line(name, outcomes, tmp):
    result, before, after = outcomes[name]
    assert_one_line_error(result, *CASES[name].expected)
    assert after == before, f"{CASES[name].watched} changed"
    assert not (tmp / "exp").exists() and not (tmp / "new-run").exists()


def test_sigterm_stops_eval_with_one_line(tmp, dialog_jsonl):
    """SIGTERM used to end eval with exit 143 and no word (issue 18, defect 19): now as Ctrl+C, exit 130, nothing
    written (summarize and export-adapter run under the same handler)."""
    rows = [json.loads(line) for line in dialog_jsonl.read_text().splitlines()] * 5
    many = write_jsonl(tmp / "many.jsonl", rows)
    out = tmp / "sigterm"
    args = ["eval", "run", "--data", str(many), "--output-dir", str(out), "--num-beams", "4", "--min-new-tokens", "60", "--max-new-tokens", "60"]
    process = subprocess.Popen([sys.executable, "-m", "seq2seq_adapters", *args], cwd=tmp, env=cli_env(), stderr=subprocess.PIPE, text=True)
    seen = ""
    while "data:" not in seen:  # printed once the model is loaded, just before generating
        line = process.stderr.readline()
        assert line, seen
        seen += line
    process.send_signal(signal.SIGTERM)
    stderr = seen + process.stderr.read()
    assert process.wait(timeout=120) == 130, stderr
    assert "Traceback" not in stderr and "error:" not in stderr
    assert stderr.count("interrupted: SIGTERM; reports, summaries and exports are written whole at the end") == 1, stderr
    assert not out.exists()


USAGE_CASES = {  # a value of the wrong type, an unknown option or a missing argument: click's usage errors
    "train-max-steps-text": (["train", "--max-steps", "abc"], ["Invalid value for '--max-steps'", "got 'abc'", "see s2sa train --help"]),
    "train-learning-rate-text": (["train", "--learning-rate", "fast"], ["Invalid value for '--learning-rate'", "got 'fast'"]),
    "train-unknown-option": (["train", "--max-step", "3"], ["No such option: --max-step", "--max-steps"]),
    "eval-max-samples-float": (["eval", "run", "--max-samples", "1.5"], ["Invalid value for '--max-samples'", "got '1.5'"]),
    "eval-no-target": (["eval"], ["Missing argument 'targets'", "see s2sa eval --help"]),
    "summarize-beams-text": (["summarize", "run", "--num-beams", "four"], ["Invalid value for '--num-beams'", "got 'four'"]),
    "eval-output-dir-empty": (["eval", "run", "--output-dir", ""], ["Invalid value for '--output-dir': must not be empty ('' would mean the current folder)"]),
    "export-run-empty": (["export-adapter", "", "--output", "exp"], ["Invalid value for 'run_dir': must not be empty"]),
    "export-no-output": (["export-adapter", "run"], ["Missing option '--output'"]),
    "export-flag-with-value": (["export-adapter", "run", "--output", "exp", "--merge=yes"], ["Option '--merge' does not take a value"]),
}  # fmt: skip


@pytest.mark.parametrize("name", USAGE_CASES)
def test_usage_errors_are_one_line_too(name, tmp):
    """Typer printed a boxed usage text for these (exit 2); now one `error:` line like the rest, still exit 2
    (click's code for usage errors), before torch, nothing written."""
    args, expected = USAGE_CASES[name]
    before = snapshot(tmp / "run")
    result = run_cli(args, env=cli_env(PYTHONPATH=f"{tmp / 'no-torch'}{os.pathsep}{ROOT}"), cwd=tmp)
    assert_one_line_error(result, *expected, code=2)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert snapshot(tmp / "run") == before and not (tmp / "exp").exists()



def old_run(tmp: Path, name: str, *, generation: dict | None = None, record: dict | None = None) -> Path:
    """A copy of the finished run with its saved files edited as an older s2sa (or session) left them."""
    run = tmp / name
    shutil.copytree(tmp / "run", run)
    for path in (run / "adapter" / "s2sa.json", run / "run_config.json"):
        saved = json.loads(path.read_text())
        saved["generation"] = {**saved["generation"], **(generation or {})}
        path.write_text(json.dumps(saved))
    saved = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**saved, **(record or {})}))
    return run


def test_a_run_saved_with_min_new_tokens_above_max_still_loads(tmp):
    """Older s2sa saved min_new_tokens 10 with max_new_tokens 3; loading said "corrupted". Now the minimum is
    lowered to the maximum with one warning per saved file (flags and YAML keep refusing the pair)."""
    old_run(tmp, "old-run", generation={"min_new_tokens": 10, "max_new_tokens": 3})
    summarized = run_cli(["summarize", "old-run", "docs.jsonl"], cwd=tmp)
    assert summarized.returncode == 0, summarized.stderr[-2000:]
    assert "min_new_tokens 10 is above generation.max_new_tokens 3 (saved by an older s2sa); using min_new_tokens 3" in summarized.stderr
    assert len(summarized.stdout.strip().splitlines()) == 1
    exported = run_cli(["export-adapter", "old-run", "--output", "old-export"], cwd=tmp)
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert json.loads((tmp / "old-export" / "generation_config.json").read_text())["min_new_tokens"] == 3
    strict = run_cli(["summarize", "old-run", "docs.jsonl", "--min-new-tokens", "10"], cwd=tmp)
    assert_one_line_error(strict, "--min-new-tokens 10 is above --max-new-tokens 3")

def test_model_card_of_a_session_that_trained_no_step(tmp):
    """A resumed run stopped after its last step trains no step in its last session: no rate, not 'None'."""
    old_run(tmp, "no-step-run", record={"train_samples_per_s": None})
    exported = run_cli(["export-adapter", "no-step-run", "--output", "no-step-export"], cwd=tmp)
    assert exported.returncode == 0, exported.stderr[-2000:]
    card = (tmp / "no-step-export" / "README.md").read_text()
    wall = next(line for line in card.splitlines() if line.startswith("| wall time |"))
    assert "None" not in wall and "samples/s" not in wall and " s " in wall, wall
