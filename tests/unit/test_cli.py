"""The `s2sa` commands in this process (typer's CliRunner, training stood in for): every key of the YAML can be
set from the command line, by its flag or as `section.key=value`; bad settings, paths and targets are one error
line before anything loads; `--resume`, `s2sa configs`, the allocator setting, a full disk under any command, the
warning lines of a command, and `eval --compare` refusing the options it does not read."""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import warnings

import pytest
from tiny import write_jsonl
from typer.testing import CliRunner

from seq2seq_adapters.cli import app
from seq2seq_adapters.config.fields import setting_flags
from seq2seq_adapters.config.schema import RunConfig, setting_fields
from seq2seq_adapters.core.errors import S2SAWarning

EXAMPLES = {
    "model": {
        "encoder": "enc-x", "decoder": "dec-x", "tie_encoder_decoder": True, "adapter_config": "lora[r=8,alpha=16]",
        "adapter_name": "mine", "leave_out": [1, 2], "train": "adapter,cross-attention",
        "cross_attention_init": "random", "attention_dropout": 0.1, "hidden_dropout": 0.1, "marker_tokens": "#Person1#,#Person2#", "encoder_marker_rows": "train",
    },
    "data": {
        "data": "org/my-data", "text_column": "doc", "summary_column": "tldr", "validation_ratio": 0.2, "max_train_samples": 5,
        "max_eval_samples": 6, "max_source_length": 64, "max_target_length": 32, "on_bad_rows": "fail",
    },
    "train": {
        "learning_rate": 1e-4, "epochs": 2.0, "max_steps": 7, "batch_size": 3, "grad_accum": 2, "warmup_ratio": 0.1,
        "weight_decay": 0.01, "seed": 7, "eval_steps": 5, "eval_rouge_samples": 20, "eval_greedy": True, "metric_for_best": "rouge2",
        "patience": 3, "max_time": "90s", "lr_scheduler": "cosine", "optim": "adafactor", "label_smoothing": 0.1,
        "gradient_checkpointing": True, "report_to": "tensorboard", "save_steps": 6, "save_total_limit": 3, "logging_steps": 4,
        "on_nonfinite": "skip-step", "output_dir": "OUT", "group_by_length": False, "bf16": True, "fp16": True,
        "keep_best_checkpoint": False,
    },
    "generation": {"num_beams": 3, "max_new_tokens": 20, "min_new_tokens": 2, "length_penalty": 1.0, "no_repeat_ngram_size": 0, "batch_size": 4, "quantize": "int8"},
}  # fmt: skip
"""A valid value, other than the default, for every setting."""
NEEDS = {"patience": ["train.eval_steps=5"]}
"""Settings that only mean something with another one set."""


@pytest.fixture
def captured(monkeypatch) -> list[RunConfig]:
    """Configs `s2sa train` would run, captured by a stand-in for the (heavy) training module."""
    configs: list[RunConfig] = []

    def fake_train(config, **kwargs):
        configs.append(config)
        return types.SimpleNamespace(output_dir=config.train.output_dir)

    monkeypatch.setitem(sys.modules, "seq2seq_adapters.training.recipe", types.SimpleNamespace(train=fake_train))
    return configs


def train(args: list[str], captured: list[RunConfig]) -> RunConfig:
    result = CliRunner().invoke(app, ["train", *args])
    assert result.exit_code == 0, result.output
    return captured.pop()


def flag_args(section: str, field: dataclasses.Field, value) -> list[str]:
    """The flag form of a setting: `--name value`, or the bool flag's on/off side."""
    declaration = setting_flags(section, field)[0]
    if isinstance(value, bool):
        on, _, off = declaration.partition("/")
        return [on if value else off]
    text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return [f"{declaration}={text}"]


def test_every_setting_has_an_example():
    assert {(s, f.name) for s, f in setting_fields()} == {(s, k) for s, keys in EXAMPLES.items() for k in keys}


@pytest.mark.parametrize("section,key", [(s, f.name) for s, f in setting_fields()])
def test_every_yaml_key_can_be_set_from_the_command_line(section, key, captured, tmp_path):
    value = EXAMPLES[section][key]
    if key == "output_dir":
        value = str(tmp_path / "run")
    field = next(f for s, f in setting_fields() if (s, f.name) == (section, key))
    default = getattr(getattr(RunConfig(), section), key)
    assert value != default
    text = value if isinstance(value, str) else ",".join(map(str, value)) if isinstance(value, list) else json.dumps(value)
    needed = NEEDS.get(key, [])
    dotted = train([*needed, f"{section}.{key}={text}"], captured)
    assert getattr(getattr(dotted, section), key) == value
    if setting_flags(section, field):
        flagged = train([*needed, *flag_args(section, field, value)], captured)
        assert getattr(getattr(flagged, section), key) == value
    else:
        assert (section, key) == ("generation", "batch_size")  # --batch-size is the training batch


def test_dotted_settings_override_the_yaml_and_todays_flags_still_work(captured, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("train:\n  max_steps: 5\ngeneration:\n  num_beams: 4\n")
    run = train(["--config", str(config), "generation.num_beams=2", "train.max_steps=300", "--max-new-tokens", "12", "--leave-out", ""], captured)
    assert (run.generation.num_beams, run.train.max_steps, run.generation.max_new_tokens, run.model.leave_out) == (2, 300, 12, [])
    assert train(["data.data=null", "train.learning_rate=2e-3"], captured).train.learning_rate == 2e-3
    # the aliases of --train
    assert train(["--full-finetune", "--leave-out", ""], captured).model.train == "all"
    assert train(["--freeze-new-weights"], captured).model.train == "adapter"
    assert train(["--train-new-weights"], captured).model.train == "adapter,new"


@pytest.mark.parametrize(
    "args,expected",
    [
        (["train.max_step=3"], "unknown setting 'train.max_step'; did you mean train.max_steps?"),
        (["max_steps"], "unexpected argument 'max_steps': settings are given as section.key=value"),
        (["train.max_steps=3", "--max-steps", "4"], "train.max_steps is given twice"),
        (["train.max_steps=1", "train.max_steps=2"], "train.max_steps is given twice ('train.max_steps=2' after train.max_steps=1); keep one"),
        (["generation.batch_size=0"], "invalid configuration: generation.batch_size must be at least 1, got 0"),
        (["generation.min_new_tokens=-1", "generation.no_repeat_ngram_size=-2"], "generation.min_new_tokens must be at least 0, got -1; generation.no_repeat_ngram_size must be at least 0, got -2"),
        (["train.batch_size=eight"], "train.batch_size must be int, got 'eight'"),
        (["--adapter-name", "output"], "adapter_name 'output' is a part of the model's parameter names"),
        (["--save-total-limit", "0"], "invalid configuration: train.save_total_limit must be at least 1, got 0"),
        (["--on-nonfinite", "ignore"], "train.on_nonfinite must be 'stop' or 'skip-step', got 'ignore'"),
        (["--max-time", "5x"], "train.max_time: '5x' is not a duration; expected a positive number with s, m or h"),
        (["--metric-for-best", "bleu"], "train.metric_for_best must be 'rougeLsum' or 'rougeL' or 'rouge1' or 'rouge2' or 'loss', got 'bleu'"),
        (["--patience", "0", "--eval-steps", "5"], "train.patience must be at least 1, got 0"),
        (["--patience", "2"], "train.patience counts evaluations: set train.eval_steps too"),
        (["--patience", "2", "--eval-steps", "5", "--no-keep-best-checkpoint"], "train.patience stops at the best checkpoint and keeps it"),
        (["--eval-steps", "3", "--save-steps", "2"], "train.save_steps 2 must be a multiple of train.eval_steps 3: the best checkpoint is one saved at an evaluation"),
        (["--label-smoothing", "1"], "train.label_smoothing must be in [0, 1), got 1.0"),
        (["--optim", "adam"], "train.optim must be 'adamw_torch' or"),
        # every number is finite and in its range, whichever setting and however it is given (issue 18)
        (["--learning-rate", "nan"], "train.learning_rate must be a finite number, got nan"),
        (["train.learning_rate=.inf"], "train.learning_rate must be a finite number, got inf"),
        (["--epochs", "nan"], "train.epochs must be a finite number, got nan"),
        (["--length-penalty", "-inf"], "generation.length_penalty must be a finite number, got -inf"),
        (["--warmup-ratio", "5"], "train.warmup_ratio must be in [0, 1], got 5.0"),
        (["--weight-decay", "-1"], "train.weight_decay must be at least 0, got -1.0"),
        (["--learning-rate", "0"], "train.learning_rate must be positive, got 0.0"),
        (["--seed", "-1"], "train.seed must be in [0, 4294967295], got -1"),
        (["--max-steps", "-5"], "train.max_steps must be at least -1, got -5"),
        (["--validation-ratio", "1"], "data.validation_ratio must be in (0, 1), got 1.0"),
        (["--attention-dropout", "1"], "model.attention_dropout must be in [0, 1), got 1.0"),
        (["--hidden-dropout", "-0.1"], "model.hidden_dropout must be in [0, 1), got -0.1"),
        (["--encoder-marker-rows", "maybe"], "model.encoder_marker_rows must be 'frozen' or 'train', got 'maybe'"),
        # cross-field: the default min_new_tokens 10 with a lower max
        (["--max-new-tokens", "8"], "generation.min_new_tokens 10 is above generation.max_new_tokens 8"),
        # text settings and paths: empty is not "the default"
        (["--output-dir", ""], "train.output_dir must not be empty"),
        (["--data", " "], "data.data must not be empty"),
        (["--adapter-name", "../../evil"], "model.adapter_name '../../evil' must be letters, digits, '_' or '-'"),
        (["--adapter-name", "a.b"], "model.adapter_name 'a.b' must be letters, digits"),
    ],
)
def test_bad_settings_fail_with_one_line_before_training(args, expected, captured):
    result = CliRunner().invoke(app, ["train", *args])
    assert result.exit_code == 1 and not captured
    assert expected in result.output and result.output.count("error:") == 1, result.output


def test_resume_refuses_flags_and_settings(captured, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    result = CliRunner().invoke(app, ["train", "--resume", str(run), "--max-steps", "5", "generation.num_beams=2"])
    assert result.exit_code == 1 and not captured
    assert "--resume continues with the settings saved in" in result.output and "drop --max-steps, generation.num_beams=2" in result.output


def test_resume_of_a_finished_run_says_so_and_changes_nothing(captured, tmp_path):
    """Exit 0 (repeating --resume until a run is done is safe), one line, no file touched, nothing trained."""
    run = tmp_path / "run"
    (run / "checkpoints" / "checkpoint-4").mkdir(parents=True)
    (run / "checkpoints" / "checkpoint-4" / "COMPLETE").write_text("ok\n")
    (run / "run_config.json").write_text("{}")
    (run / "run.json").write_text('{"train_loss": 6.437}')
    (run / "metrics.jsonl").write_text('{"step": 4, "loss": 6.4}\n')
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.rglob("*") if p.is_file()}
    result = CliRunner().invoke(app, ["train", "--resume", str(run)])
    assert result.exit_code == 0 and not captured, result.output
    assert "is already finished" in result.output and "nothing changed" in result.output and "Traceback" not in result.output
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.rglob("*") if p.is_file()} == before


# ---------------------------------------------------------------- shipped configs


def test_a_shipped_config_is_found_by_name_from_any_folder(captured, tmp_path, monkeypatch):
    (tmp_path / "shared" / "data" / "dialogsum").mkdir(parents=True)  # local data is checked before training
    write_jsonl(tmp_path / "shared" / "data" / "dialogsum" / "train.jsonl", [{"dialogue": "a b", "summary": "a"}])
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    run = train(["--config", "dialogsum", "--data", "../shared/data/dialogsum"], captured)
    assert (run.model.adapter_name, run.data.data) == ("dialogsum", "../shared/data/dialogsum")
    assert train(["--config", "configs/dialogsum.yaml"], captured).data.data == "knkarthick/dialogsum"  # the old spelling
    result = CliRunner().invoke(app, ["train", "--config", "dialogsun"])
    assert result.exit_code == 1 and "config file not found: dialogsun; shipped configs: dialogsum, quickstart" in result.output


def test_s2sa_configs_lists_them():
    result = CliRunner().invoke(app, ["configs"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "dialogsum" in result.output and "quickstart" in result.output and "DialogSum (everyday dialogues" in result.output


def test_report_to_a_package_that_is_not_installed_fails_before_training(captured, monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *args: None)
    result = CliRunner().invoke(app, ["train", "--report-to", "wandb"])
    assert result.exit_code == 1 and not captured and result.output.count("error:") == 1
    assert "--report-to wandb: the wandb package is not installed; pip install wandb" in result.output


def test_yaml_and_saved_run_configs_meet_the_same_rules(captured, tmp_path):
    """A YAML `.nan` and a run's saved run_config.json go through the one validation pass (issue 18)."""
    config = tmp_path / "nan.yaml"
    config.write_text("train:\n  learning_rate: .nan\n")
    result = CliRunner().invoke(app, ["train", "--config", str(config)])
    assert result.exit_code == 1 and not captured
    assert "train.learning_rate must be a finite number, got nan" in result.output and result.output.count("error:") == 1
    run = tmp_path / "run"
    run.mkdir()
    (run / "run_config.json").write_text(json.dumps({"train": {"warmup_ratio": 5}}))
    result = CliRunner().invoke(app, ["train", "--resume", str(run)])
    assert result.exit_code == 1 and not captured
    assert "train.warmup_ratio must be in [0, 1], got 5" in result.output, result.output


def test_resume_reads_the_run_config_as_json(captured, tmp_path):
    """A damaged run_config.json is named as the JSON it is meant to be, not as YAML (issue 18, defect 17)."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "run_config.json").write_text('{"train": {"max_steps": 2}')
    result = CliRunner().invoke(app, ["train", "--resume", str(run)])
    assert result.exit_code == 1 and not captured
    assert "run_config.json is not a valid run config (JSON object): Expecting ',' delimiter" in result.output, result.output
    assert "YAML" not in result.output


@pytest.mark.parametrize("args,expected", [
    (["--config", "{folder}"], "config file {folder} is a folder, not a file"),
    (["--resume", "{file}"], "--resume {file} is a file, not a folder"),
])  # fmt: skip
def test_a_path_of_the_wrong_kind_is_named_so(args, expected, captured, tmp_path):
    """A folder given for a file (or the reverse) is not "not found" (issue 18, defect 15)."""
    names = {"folder": tmp_path, "file": tmp_path / "notes.txt"}
    names["file"].write_text("x\n")
    result = CliRunner().invoke(app, ["train", *(arg.format(**names) for arg in args)])
    assert result.exit_code == 1 and not captured
    assert expected.format(**names) in result.output and result.output.count("error:") == 1, result.output


def test_a_full_disk_under_any_command_is_one_error_line(capsys):
    """The CLI's net for writes no command names itself (eval reports, exports, summaries): the file the OS names."""
    import errno

    import typer

    from seq2seq_adapters.cli import user_errors

    with pytest.raises(typer.Exit) as exit_:
        with user_errors():
            try:
                raise OSError(errno.ENOSPC, "No space left on device", "runs/x/eval-test/predictions_test.jsonl")
            except OSError as exc:
                raise RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed") from exc
    assert exit_.value.exit_code == 1
    stderr = capsys.readouterr().err
    assert stderr.strip() == "error: no space left on device while writing runs/x/eval-test/predictions_test.jsonl", stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "{tmp}"], "is neither an s2sa run"),
        (["eval", "{tmp}/missing"], "not found"),
        (["summarize", "{tmp}", "{tmp}/none.txt"], "input file not found"),
        (["eval", "--compare", "{tmp}"], "at least two"),
    ],
)
def test_errors_are_one_line(args, message, tmp_path):
    result = CliRunner().invoke(app, [a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error:")
    assert message in result.stderr


def test_every_command_reuses_freed_memory(monkeypatch):
    """The setting is made by the CLI (the process's owner) before any command runs, not by the library."""
    called: list[bool] = []
    monkeypatch.setattr("seq2seq_adapters.cli.reuse_freed_memory", lambda: called.append(True))
    result = CliRunner().invoke(app, ["configs"], standalone_mode=False)
    assert result.exit_code == 0 and called == [True]


def test_a_command_prints_our_warnings_as_one_line_and_restores_the_hook(monkeypatch, tmp_path):
    def fake_train(config, **kwargs):
        warnings.warn("something to know", S2SAWarning)
        return types.SimpleNamespace(output_dir=config.train.output_dir)

    monkeypatch.setitem(sys.modules, "seq2seq_adapters.training.recipe", types.SimpleNamespace(train=fake_train))
    before = (warnings.showwarning, list(warnings.filters))
    result = CliRunner().invoke(app, ["train", "--output-dir", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert [line for line in result.output.splitlines() if "something to know" in line] == ["warning: something to know"]
    assert (warnings.showwarning, list(warnings.filters)) == before


def test_compare_names_the_options_given_that_it_does_not_read(monkeypatch):
    compared = []
    monkeypatch.setattr("seq2seq_adapters.evaluation.compare.compare_runs", lambda *args, **kwargs: compared.append(args))
    args = ["eval", "a", "b", "--compare", "--num-beams", "3", "--max-samples", "2", "--overwrite", "--split", "validation", "--text-column", "t"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and not compared
    assert "--compare reads existing reports; --max-samples, --text-column, --overwrite, --num-beams do not apply" in result.output
    result = CliRunner().invoke(app, ["eval", "a", "b", "--compare", "--split", "validation", "--markdown", "table.md"])
    assert result.exit_code == 0, result.output
    assert len(compared) == 1
