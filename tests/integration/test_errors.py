"""Bad input to `s2sa train`: one clear line on stderr, exit code 1, no traceback, nothing lost.

Every case runs the real CLI in a subprocess (`python -m seq2seq_adapters train ...`) with the tiny BERT,
an existing `--output-dir` holding a marker file and `--overwrite` (so a late check would delete it),
and checks the exit code, that stderr names the problem, and that the folder is untouched. The cases run
concurrently in one module fixture: each subprocess spends most of its time importing torch/transformers.
"""

from __future__ import annotations

import csv
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import ROOT, cli_env, run_cli, snapshot
from tiny import write_jsonl

MARKER = "keep-me.txt"


@dataclass
class Case:
    args: list[str]
    expected: list[str]
    env: dict[str, str] = field(default_factory=dict)
    overwrite: bool = True
    base: bool = True  # prepend tiny --encoder/--decoder, good --data, --output-dir (and --overwrite)
    before_torch: bool = False  # refused before torch is imported: run with a `torch` that cannot be imported


@dataclass
class Outcome:
    returncode: int
    stderr: str
    seconds: float
    output_dir: Path


def make_output_dir(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / MARKER).write_text("precious\n")
    (path / ".s2sa").write_text("")  # an earlier run's folder: --overwrite may replace it, an error must not
    return path


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def dialog_rows(n: int) -> list[dict]:
    return [{"id": f"d{i}", "dialogue": f"#Person1#: Shall we meet at {i % 9 + 1} pm?\n#Person2#: Yes.", "summary": f"They meet at {i % 9 + 1}."} for i in range(n)]


def build_cases(tmp: Path, tiny_bert: Path, dialog_jsonl: Path) -> dict[str, Case]:
    """Every bad-input case: files it needs are written under `tmp`."""
    data = tmp / "data"
    data.mkdir()
    (data / "notes.txt").write_text("document\tsummary\n")
    (data / "empty.jsonl").write_text("")
    malformed = data / "malformed.jsonl"
    malformed.write_text('{"document": "a b c", "summary": "a"}\n{"document": "d e f", "summary": "d"}\n{"document": "oops",\n')
    no_columns = write_csv(data / "no_columns.csv", ["title", "body_text", "tldr_text"], [["t", "b", "x"], ["u", "c", "y"]])
    rows = dialog_rows(20)
    rows[3]["summary"] = ""
    rows[7]["summary"] = 42
    bad_cells = write_jsonl(data / "bad_cells.jsonl", rows)
    all_bad = write_jsonl(data / "all_bad.jsonl", [{**row, "summary": "  "} for row in dialog_rows(6)])
    gpt2 = tmp / "gpt2"
    from transformers import GPT2Config

    GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=100).save_pretrained(gpt2)
    bad_yaml = tmp / "bad.yaml"
    bad_yaml.write_text("train:\n  batch_size: eight\n")
    bad_generation = tmp / "bad-generation.yaml"
    bad_generation.write_text("generation:\n  batch_size: 0\n  min_new_tokens: -1\n  no_repeat_ngram_size: -1\n")
    nan_yaml = tmp / "nan.yaml"
    nan_yaml.write_text("train:\n  learning_rate: .nan\n")
    no_torch = tmp / "no-torch" / "torch"
    no_torch.mkdir(parents=True)
    (no_torch / "__init__.py").write_text("raise ImportError('torch was imported before the cheap checks')\n")
    not_a_run = make_output_dir(tmp / "not-a-run")
    no_checkpoint = make_output_dir(tmp / "no-checkpoint")
    (no_checkpoint / "config.json").write_text(json.dumps({"train": {"max_steps": 2}}))  # the old name: still a run
    damaged_config = make_output_dir(tmp / "damaged-config")
    (damaged_config / "run_config.json").write_text('{"train": {"max_steps": 2}')
    holds_data = make_output_dir(tmp / "holds-data")
    write_jsonl(holds_data / "train.jsonl", dialog_rows(20))
    export_out = make_output_dir(tmp / "export-out")
    offline_home = tmp / "hf-home"
    offline_home.mkdir()
    bert = str(tiny_bert)
    return {
        # --data
        "data-missing": Case(["--data", str(data / "missing.jsonl")], ["data path not found", "missing.jsonl"]),
        "data-extension": Case(["--data", str(data / "notes.txt")], ["unsupported data file extension '.txt'", "notes.txt", ".jsonl"]),
        "data-empty": Case(["--data", str(data / "empty.jsonl")], ["empty.jsonl", "is empty"]),
        "data-malformed-line": Case(["--data", str(malformed)], ["malformed.jsonl line 3", "malformed JSON"]),
        "data-csv-columns": Case(
            ["--data", str(no_columns)], ["no_columns.csv", "no text column", "columns there: title, body_text, tldr_text", "--text-column"]
        ),
        "data-bad-cell-fail": Case(
            ["--data", str(bad_cells), "--on-bad-rows", "fail"], ["bad_cells.jsonl", "row 3", "column 'summary'", "empty or not text", "--on-bad-rows skip"]
        ),
        # skip mode passes the data check and reports the count; the run then stops at the length check
        "data-bad-cell-skip-then-source-length": Case(
            ["--data", str(bad_cells), "--on-bad-rows", "skip", "--max-source-length", "512"],
            ["skipped rows with empty or non-text cells", "'train': 2", "--max-source-length 512", "position limit 128"],
        ),
        "data-all-rows-filtered": Case(["--data", str(all_bad)], ["all 6 rows", "all_bad.jsonl", "empty or non-text"]),
        "on-bad-rows-value": Case(["--on-bad-rows", "drop"], ["on_bad_rows must be 'skip' or 'fail'", "'drop'"]),
        # --leave-out
        "leave-out-not-integer": Case(["--leave-out", "0,x"], ["--leave-out", "'x' is not a layer id"]),
        "leave-out-negative": Case(["--leave-out=-1"], ["leave_out layer ids must be >= 0", "[-1]"]),
        "leave-out-duplicate": Case(["--leave-out", "1,1"], ["duplicate layer ids", "[1, 1]"]),
        "leave-out-beyond": Case(["--leave-out", "0,9"], ["--leave-out ids [9] exist in neither stack", "encoder has 4 layers", "decoder has 4"]),
        # --adapter-config
        "adapter-unknown": Case(["--adapter-config", "no_such_adapter"], ["--adapter-config 'no_such_adapter'", "not a valid adapters config"]),
        "adapter-bad-parameter": Case(["--adapter-config", "lora[r=abc]"], ["lora[r=abc]", "not a valid adapters config"]),
        "adapter-zero-size": Case(["--adapter-config", "seq_bn[reduction_factor=0]"], ["reduction_factor must be positive", "got 0"]),
        # --train
        "train-unknown-group": Case(["--train", "adapter,heads"], ["--train: unknown 'heads'", "adapter, head, cross-attention, new, all"]),
        "train-all-mixed": Case(["--train", "all,head"], ["'all' (full fine-tuning, no adapter) stands alone"]),
        "train-without-adapter": Case(["--train", "head"], ["--train 'head' leaves out the adapter"]),
        "train-and-alias": Case(["--train", "adapter", "--full-finetune"], ["--full-finetune and --train both say which weights train"]),
        # --adapter-name: a part of parameter names; refused before any checkpoint is read (this one is missing)
        "adapter-name-reserved": Case(
            ["--adapter-name", "decoder", "--encoder", str(tmp / "no-such-model")],
            ["adapter_name 'decoder' is a part of the model's parameter names", "reserved: LayerNorm, attention", "crossattention"],
        ),
        # --encoder / --decoder
        "encoder-not-bert": Case(["--encoder", str(gpt2)], [str(gpt2), "'gpt2' model", "bert"]),
        "encoder-missing-folder": Case(["--encoder", str(tmp / "no-such-model")], ["checkpoint folder not found", "no-such-model"]),
        "decoder-hub-offline": Case(
            ["--decoder", "s2sa-test/no-such-model"],
            ["'s2sa-test/no-such-model'", "offline", "--decoder DIR"],
            env={"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HOME": str(offline_home)},
        ),
        "encoder-hub-offline-mode": Case(
            ["--encoder", "s2sa-test/no-such-model"],
            ["'s2sa-test/no-such-model'", "HF_HUB_OFFLINE", "--encoder DIR"],
            env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(offline_home)},
        ),
        # lengths and config files
        "max-source-length": Case(["--max-source-length", "1024"], ["--max-source-length 1024", "encoder's position limit 128"]),
        "config-wrong-type": Case(["--config", str(bad_yaml)], ["train.batch_size must be int", "'eight'"]),
        # generation settings are checked before training (they were used only after it, by the validation summaries)
        "config-generation-values": Case(
            ["--config", str(bad_generation)],
            ["generation.min_new_tokens must be at least 0, got -1", "generation.no_repeat_ngram_size must be at least 0", "generation.batch_size must be at least 1, got 0"],
        ),
        "setting-generation-batch-size": Case(["generation.batch_size=0"], ["invalid configuration: generation.batch_size must be at least 1, got 0"]),
        "setting-unknown": Case(["train.max_step=3"], ["unknown setting 'train.max_step'", "did you mean train.max_steps?"]),
        # every number finite and in range, from a flag or a YAML file; cross-field rules (issue 18)
        "learning-rate-nan": Case(["--learning-rate", "nan"], ["train.learning_rate must be a finite number, got nan"], before_torch=True),
        "config-learning-rate-nan": Case(["--config", str(nan_yaml)], ["train.learning_rate must be a finite number, got nan"], before_torch=True),
        "epochs-nan": Case(["--epochs", "nan"], ["train.epochs must be a finite number, got nan"], before_torch=True),
        "warmup-ratio-range": Case(["--warmup-ratio", "5"], ["train.warmup_ratio must be in [0, 1], got 5.0"], before_torch=True),
        "weight-decay-negative": Case(["--weight-decay", "-1"], ["train.weight_decay must be at least 0, got -1.0"], before_torch=True),
        "length-penalty-nan": Case(["--length-penalty", "nan"], ["generation.length_penalty must be a finite number, got nan"], before_torch=True),
        "min-above-max-new-tokens": Case(
            ["--min-new-tokens", "10", "--max-new-tokens", "8"], ["generation.min_new_tokens 10 is above generation.max_new_tokens 8"], before_torch=True
        ),
        "output-dir-empty": Case(["--output-dir", ""], ["train.output_dir must not be empty"], before_torch=True),
        "adapter-name-path": Case(
            ["--adapter-name", "../../evil"], ["model.adapter_name '../../evil' must be letters, digits, '_' or '-'"], before_torch=True
        ),
        # --output-dir / --overwrite / --resume
        "output-dir-not-empty": Case([], ["is not empty", "--overwrite", "--resume"], overwrite=False),
        "overwrite-would-delete-data": Case(
            ["train", "--encoder", bert, "--decoder", bert, "--data", str(holds_data / "train.jsonl"), "--output-dir", str(holds_data), "--overwrite"],
            ["would replace --data", "holds-data", "which it holds"],
            base=False,
        ),
        "resume-not-a-run": Case(["train", "--resume", str(not_a_run)], ["not-a-run", "not a run folder (no run_config.json)"], base=False),
        "resume-missing": Case(["train", "--resume", str(tmp / "gone")], ["--resume", "gone", "no such folder"], base=False),
        "resume-no-checkpoint": Case(["train", "--resume", str(no_checkpoint)], ["no complete checkpoint", "--overwrite"], base=False),
        "resume-damaged-config": Case(
            ["train", "--resume", str(damaged_config)], ["run_config.json is not a valid run config (JSON object)", "Expecting ',' delimiter"],
            base=False, before_torch=True,
        ),
        "resume-with-flags": Case(
            ["train", "--resume", str(no_checkpoint), "--max-steps", "5"], ["--resume continues with the settings", "--max-steps"], base=False
        ),
        # the other commands, given a folder that is not a run
        "eval-not-a-run": Case(["eval", str(not_a_run)], ["not-a-run", "neither an s2sa run"], base=False),
        "export-not-a-run": Case(
            ["export-adapter", str(not_a_run), "--output", str(export_out), "--overwrite"], ["not-a-run", "no final adapter/"], base=False
        ),
    }


RESUME_DIRS = {
    "resume-not-a-run": "not-a-run",
    "resume-no-checkpoint": "no-checkpoint",
    "resume-damaged-config": "damaged-config",
    "overwrite-would-delete-data": "holds-data",
    "eval-not-a-run": "not-a-run",
    "export-not-a-run": "export-out",
}
CASE_NAMES = [
    "data-missing", "data-extension", "data-empty", "data-malformed-line", "data-csv-columns",
    "data-bad-cell-fail", "data-bad-cell-skip-then-source-length", "data-all-rows-filtered", "on-bad-rows-value",
    "leave-out-not-integer", "leave-out-negative", "leave-out-duplicate", "leave-out-beyond",
    "adapter-unknown", "adapter-bad-parameter", "adapter-zero-size", "adapter-name-reserved",
    "train-unknown-group", "train-all-mixed", "train-without-adapter", "train-and-alias",
    "encoder-not-bert", "encoder-missing-folder", "decoder-hub-offline", "encoder-hub-offline-mode",
    "max-source-length", "config-wrong-type", "config-generation-values", "setting-generation-batch-size", "setting-unknown",
    "learning-rate-nan", "config-learning-rate-nan", "epochs-nan", "warmup-ratio-range", "weight-decay-negative", "length-penalty-nan",
    "min-above-max-new-tokens", "output-dir-empty", "adapter-name-path", "resume-damaged-config",
    "output-dir-not-empty", "overwrite-would-delete-data", "resume-not-a-run", "resume-missing", "resume-no-checkpoint", "resume-with-flags",
    "eval-not-a-run", "export-not-a-run",
]  # fmt: skip


class Outcomes(dict):
    """Outcomes by case name; a case no selected test asked for in advance runs when it is first read."""

    def __init__(self, run) -> None:
        super().__init__()
        self.run = run

    def __missing__(self, name: str) -> tuple[Case, Outcome, dict[str, bytes]]:
        self[name] = self.run(name)
        return self[name]


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory, tiny_bert, dialog_jsonl) -> Outcomes:
    """Run the selected cases (a few at a time); keep each with its outcome and the output folder's contents before."""
    tmp = tmp_path_factory.mktemp("errors")
    cases = build_cases(tmp, tiny_bert, dialog_jsonl)
    no_torch = tmp / "no-torch" / "torch"
    assert sorted(cases) == sorted(CASE_NAMES)

    def run(name: str) -> tuple[Case, Outcome, dict[str, bytes]]:
        case = cases[name]
        if case.base:
            output_dir = make_output_dir(tmp / "out" / name)
            args = ["train", "--encoder", str(tiny_bert), "--decoder", str(tiny_bert), "--data", str(dialog_jsonl)]
            args += ["--output-dir", str(output_dir), *(["--overwrite"] if case.overwrite else [])]
            args += ["--max-steps", "1", "--num-beams", "1", "--max-new-tokens", "10", "--max-eval-samples", "2"]
            args += case.args  # later flags win
        else:
            output_dir = tmp / RESUME_DIRS.get(name, "unused")
            args = case.args
        before = snapshot(output_dir) if output_dir.exists() else {}
        env = cli_env(**case.env, **({"PYTHONPATH": f"{no_torch.parent}{os.pathsep}{ROOT}"} if case.before_torch else {}))
        start = time.perf_counter()
        result = run_cli(args, env=env, cwd=tmp)
        return case, Outcome(result.returncode, result.stderr, time.perf_counter() - start, output_dir), before

    selected = [item.callspec.params["name"] for item in request.session.items if item.module is request.module and hasattr(item, "callspec")]
    found = Outcomes(run)
    with ThreadPoolExecutor(max_workers=3) as pool:
        found.update(zip(selected, pool.map(run, selected)))
    return found


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_input_fails_with_one_clear_line(name, outcomes):
    case, outcome, before = outcomes[name]
    stderr = outcome.stderr
    assert outcome.returncode == 1, stderr
    assert "Traceback" not in stderr, stderr
    error_lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, stderr
    for expected in case.expected:
        assert expected in stderr, f"{expected!r} not in stderr:\n{stderr}"
    if before:
        assert snapshot(outcome.output_dir) == before, "the existing output folder was modified"


def test_nothing_is_written_for_an_empty_output_dir(outcomes):
    """`--output-dir ''` used to fall back to runs/<name>-<time> (issue 18, defect 14)."""
    _, outcome, _ = outcomes["output-dir-empty"]
    assert not (outcome.output_dir.parent.parent / "runs").exists()


def test_hub_id_offline_fails_fast(outcomes):
    """Offline, transformers retries ~25 s with a warning per retry; the probe fails at once instead."""
    _, outcome, _ = outcomes["decoder-hub-offline"]
    assert "Retrying" not in outcome.stderr
    # HF_HUB_OFFLINE skips the probe and reads the cache: the same fresh interpreter (a changed environment is not
    # forked from the preloaded server) and the same work up to the checkpoint check, without the network.
    _, plain, _ = outcomes["encoder-hub-offline-mode"]
    assert outcome.seconds < plain.seconds + 10, (outcome.seconds, plain.seconds)
