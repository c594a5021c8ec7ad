"""`s2sa train`: the files a run writes, which weights change, reloading in a new process, the CLI,
loss on real DialogSum, and every shipped config."""

from __future__ import annotations

import io
import json
import math
import re
import textwrap
from pathlib import Path

import adapters
import datasets
import pytest
import torch
import transformers
from conftest import cli_env, run_cli, run_python
from rich.console import Console
from safetensors.torch import load_file
from tiny import write_jsonl
from typer.testing import CliRunner

from seq2seq_adapters.cli import app
from seq2seq_adapters.config.schema import DataArgs, GenerationArgs, ModelArgs, RunConfig, TrainArgs
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.data import tokenization as tokenized
from seq2seq_adapters.layout.checkpoint_folder import CHECKPOINT_COMPLETE, last_complete_checkpoint
from seq2seq_adapters.model import builder as modeling
from seq2seq_adapters.model.builder import is_adapter_parameter, saved_state
from seq2seq_adapters.training import recipe as training

ROOT = Path(__file__).resolve().parents[1]
ADAPTER = "dialog"
LAYER = re.compile(r"^(encoder\.encoder|decoder\.bert\.encoder)\.layer\.(\d+)\.")


@pytest.fixture(autouse=True, scope="module")
def isolated_caches(tmp_path_factory: pytest.TempPathFactory):
    """Keep datasets' Arrow caches and our tokenized cache out of the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path_factory.mktemp("hf_datasets")))
        patch.setattr(tokenized, "DEFAULT_TOKENIZED_CACHE", tmp_path_factory.mktemp("tokenized"))
        yield



class Captured:
    """The summarizer `train` built, and a copy of every tensor of its model before training."""

    summarizer: modeling.BuiltModel
    before: dict[str, torch.Tensor]


def train_capturing(config: RunConfig) -> tuple[training.TrainResult, Captured, str]:
    """Run `training.train`, keeping the model it builds (and its weights before the first step)."""
    captured = Captured()

    def build(margs, **kwargs):
        summarizer = modeling.build_summarizer(margs, **kwargs)
        captured.summarizer = summarizer
        captured.before = {k: v.detach().clone() for k, v in summarizer.model.state_dict().items()}
        return summarizer

    console_file = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "build_summarizer", build)
        result = training.train(config, console=Console(file=console_file, width=200))
    return result, captured, console_file.getvalue()


def canonical_names(model) -> dict[str, str]:
    """state_dict key -> the named_parameters name of the same tensor (tied weights share one name)."""
    by_id = {id(p): name for name, p in model.named_parameters()}
    return {key: by_id.get(id(value), key) for key, value in model.state_dict(keep_vars=True).items()}


def weight_changes(captured: Captured, adapter_name: str) -> dict[str, dict[str, bool]]:
    """For adapter / new / frozen tensors: state_dict key -> whether it differs from before training."""
    model = captured.summarizer.model
    new = set(captured.summarizer.new_weight_names)
    names = canonical_names(model)
    after = model.state_dict()
    assert set(after) == set(captured.before)
    changes: dict[str, dict[str, bool]] = {"adapter": {}, "new": {}, "frozen": {}}
    for key, tensor in after.items():
        name = names[key]
        group = "adapter" if is_adapter_parameter(name, adapter_name) else "new" if name in new else "frozen"
        changes[group][key] = not torch.equal(tensor, captured.before[key])
    return changes


def tiny_config(tiny_bert: Path, data: Path, output_dir: Path, **model_overrides) -> RunConfig:
    return RunConfig(
        model=ModelArgs(**{"encoder": str(tiny_bert), "decoder": str(tiny_bert), "adapter_name": ADAPTER, "leave_out": [0, 1],
                           "adapter_config": "seq_bn", **model_overrides}),
        data=DataArgs(data=str(data), max_source_length=64, max_target_length=24),
        train=TrainArgs(max_steps=6, batch_size=8, learning_rate=1e-3, logging_steps=2, save_steps=3, output_dir=str(output_dir)),
        generation=GenerationArgs(num_beams=2, max_new_tokens=10, min_new_tokens=2, batch_size=4),
    )


@pytest.fixture(scope="module")
def tiny_run(tiny_bert, dialog_jsonl, tmp_path_factory):
    """6 steps of seq_bn (leave_out 0,1) with the new weights trained, on the tiny BERT and 64 dialogues."""
    config = tiny_config(tiny_bert, dialog_jsonl, tmp_path_factory.mktemp("tiny-run") / "run", train="adapter,new")
    result, captured, console_text = train_capturing(config)
    return config, result, captured, console_text


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ---------------------------------------------------------------- files of a run


def test_run_writes_config_and_adapter_folder(tiny_run):
    config, result, captured, _ = tiny_run
    run = result.output_dir
    assert run == Path(config.train.output_dir)
    assert json.loads((run / "run_config.json").read_text()) == json.loads(json.dumps(config.to_dict()))

    model = captured.summarizer.model
    params = dict(model.named_parameters())
    adapter = run / "adapter"
    adapter_config = json.loads((adapter / "adapter_config.json").read_text())
    assert adapter_config["name"] == ADAPTER
    assert adapter_config["config"]["leave_out"] == [0, 1]
    saved_adapter = load_file(str(adapter / "adapter.safetensors"))
    own_adapter = {n for n in params if is_adapter_parameter(n, ADAPTER)}
    assert len(saved_adapter) == len(own_adapter) > 0
    assert {int(m.group(2)) for k in saved_adapter if (m := LAYER.match(k))} == {2, 3}
    for key, tensor in saved_adapter.items():
        assert key in params and torch.equal(tensor, params[key].detach()), key

    non_adapter = load_file(str(adapter / "non_adapter_weights.safetensors"))
    assert set(non_adapter) == set(saved_state(captured.summarizer))  # the trained groups (and random frozen new weights)
    assert not any(k.startswith("encoder.") for k in non_adapter)  # no frozen base weights in the artifact
    for key, tensor in non_adapter.items():
        assert torch.equal(tensor, params[key].detach()), key

    info = json.loads((adapter / "s2sa.json").read_text())
    assert info["model"] == config.to_dict()["model"]
    assert info["generation"] == config.to_dict()["generation"]
    assert info["new_weight_names"] == captured.summarizer.new_weight_names
    assert info["max_source_length"] == 64


def test_run_writes_complete_resumable_checkpoints(tiny_run):
    _, result, _, _ = tiny_run
    checkpoints = sorted((result.output_dir / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    assert [p.name for p in checkpoints] == ["checkpoint-3", "checkpoint-6"]
    for folder in checkpoints:
        assert (folder / CHECKPOINT_COMPLETE).is_file()
        for name in ("adapter_config.json", "adapter.safetensors", "non_adapter_weights.safetensors", "s2sa.json"):
            assert (folder / "adapter" / name).is_file(), f"{folder.name}/adapter/{name}"
        assert (folder / "optimizer.pt").is_file() and (folder / "scheduler.pt").is_file()
        assert json.loads((folder / "trainer_state.json").read_text())["global_step"] == int(folder.name.split("-")[1])
        assert not (folder / "model.safetensors").exists()  # the frozen base is not copied into checkpoints
    assert last_complete_checkpoint(result.output_dir) == checkpoints[-1]
    # the last checkpoint holds the final trained non-adapter weights
    final = load_file(str(result.output_dir / "adapter" / "non_adapter_weights.safetensors"))
    last = load_file(str(checkpoints[-1] / "adapter" / "non_adapter_weights.safetensors"))
    assert all(torch.equal(final[k], last[k]) for k in final)


def test_metrics_jsonl_has_one_line_per_logging_step(tiny_run):
    _, result, _, _ = tiny_run
    lines = [line for line in read_jsonl(result.output_dir / "metrics.jsonl") if "loss" in line]
    assert [line["step"] for line in lines] == [2, 4, 6]
    for line in lines:
        assert math.isfinite(line["loss"]) and line["loss"] > 0
        assert line["learning_rate"] > 0
        assert line["epoch"] > 0
    assert [line["epoch"] for line in lines] == sorted(line["epoch"] for line in lines)
    assert result.train_loss == pytest.approx(sum(line["loss"] for line in lines) / 3, rel=0.05)


def test_rouge_reports_and_predictions(tiny_run):
    _, result, captured, console_text = tiny_run
    run = result.output_dir
    predictions = read_jsonl(run / "predictions_validation.jsonl")
    report = json.loads((run / "rouge_validation.json").read_text())
    assert report["split"] == "validation"
    assert "model" in report["systems"] and any(name.startswith("lead-") for name in report["systems"])
    n = len(predictions)
    assert n == 7  # 10% of the 64 dialogues carved out as validation
    model_scores = report["systems"]["model"]
    assert model_scores["n_examples"] == n
    for kind in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
        f1 = model_scores["aggregate"][kind]["fmeasure"]
        assert 0 <= f1["low"] <= f1["mean"] <= f1["high"] <= 1
        per_example = [p["rouge"][kind] for p in predictions]
        assert f1["mean"] == pytest.approx(sum(per_example) / n, abs=1e-5)
        assert result.rouge[kind] == pytest.approx(100 * f1["mean"], abs=0.006)
    for row in predictions:
        assert set(row) >= {"id", "document", "references", "prediction", "rouge"}
        assert isinstance(row["prediction"], str) and row["references"]
    markdown = (run / "rouge_validation.md").read_text()
    assert markdown.startswith("# ROUGE on validation")
    assert "ROUGE-1 F1" in markdown and "ROUGE-Lsum F1" in markdown
    assert "ROUGE on validation (7 examples)" in console_text


def test_run_json_records_settings_versions_data_and_parameters(tiny_run):
    config, result, captured, _ = tiny_run
    record = json.loads((result.output_dir / "run.json").read_text())
    assert record["encoder"] == record["decoder"] == config.model.encoder
    assert record["config"] == json.loads(json.dumps(config.to_dict()))
    assert record["train_samples_per_s"] == result.train_samples_per_s > 0
    assert record["global_step"] == 6 and record["wall_time_s"] > 0
    assert record["versions"] == {
        "seq2seq_adapters": "0.1.0",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "adapters": adapters.__version__,
        "datasets": datasets.__version__,
    }
    assert re.fullmatch(r"[0-9a-f]{16}", record["data"]["fingerprint"])
    assert record["data"]["sizes"] == {"train": 57, "validation": 7}
    assert record["data"]["validation_carved"]
    params = dict(captured.summarizer.model.named_parameters())
    counts = record["parameters"]["groups"]
    assert counts["adapter"]["count"] == sum(p.numel() for n, p in params.items() if is_adapter_parameter(n, ADAPTER))
    new = sum(params[n].numel() for n in captured.summarizer.new_weight_names)
    assert counts["head"]["count"] + counts["cross-attention"]["count"] == new
    assert {name: g["trained"] for name, g in counts.items()} == {"adapter": True, "head": True, "cross-attention": True, "base": False}
    assert record["parameters"]["total"] == sum(p.numel() for p in params.values())
    trained = sum(p.numel() for p in params.values() if p.requires_grad)
    assert record["parameters"]["trained"] == trained
    assert record["rouge_validation"] == result.rouge


# ---------------------------------------------------------------- what training changes


def test_only_adapter_and_new_weights_change(tiny_run):
    _, _, captured, _ = tiny_run
    changes = weight_changes(captured, ADAPTER)
    assert len(changes["adapter"]) == 16  # 4 tensors x 2 layers x 2 stacks
    assert len(changes["new"]) >= 4 * 10 + 5  # cross-attention of 4 layers + LM-head parts (+ tied aliases)
    unchanged_trainable = [k for group in ("adapter", "new") for k, changed in changes[group].items() if not changed]
    assert not unchanged_trainable
    changed_frozen = [k for k, changed in changes["frozen"].items() if changed]
    assert not changed_frozen
    assert "decoder.bert.embeddings.word_embeddings.weight" in changes["frozen"]
    assert "encoder.encoder.layer.0.attention.self.query.weight" in changes["frozen"]


def test_freeze_new_weights_keeps_them_at_their_initial_values(tiny_bert, dialog_jsonl, tmp_path):
    config = tiny_config(tiny_bert, dialog_jsonl, tmp_path / "frozen-new", train="adapter", cross_attention_init="random")
    config.train.max_steps, config.train.save_steps, config.train.logging_steps = 2, None, 1
    config.data.max_eval_samples = 2
    config.generation = GenerationArgs(num_beams=1, max_new_tokens=4, min_new_tokens=1, batch_size=2)
    result, captured, _ = train_capturing(config)
    changes = weight_changes(captured, ADAPTER)
    assert changes["new"] and not any(changes["new"].values())
    assert not any(changes["frozen"].values())
    assert changes["adapter"] and all(changes["adapter"].values())
    record = json.loads((result.output_dir / "run.json").read_text())
    assert [name for name, g in record["parameters"]["groups"].items() if g["trained"]] == ["adapter"]
    # the (untrained, random) new weights are still saved, so a reload rebuilds exactly this model
    saved = load_file(str(result.output_dir / "adapter" / "non_adapter_weights.safetensors"))
    assert set(saved) == set(captured.summarizer.new_weight_names)


# ---------------------------------------------------------------- reload in a fresh process

RELOAD = textwrap.dedent(
    """
    import json, sys
    from safetensors.torch import save_file
    from seq2seq_adapters import load_summarizer
    from seq2seq_adapters.layout.artifact_folder import read_info, resolve_artifact_dir
    from seq2seq_adapters.generation.decoding import generate_summaries

    run, out = sys.argv[1], sys.argv[2]
    model, tokenizer = load_summarizer(run)
    info = read_info(resolve_artifact_dir(run))
    with open(f"{run}/predictions_validation.jsonl") as f:
        documents = [json.loads(line)["document"] for line in f]
    summaries = generate_summaries(model, tokenizer, documents, info.generation_args, info.max_source_length)
    save_file({k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}, f"{out}/state.safetensors")
    with open(f"{out}/summaries.json", "w") as f:
        json.dump(summaries, f)
    """
)


@pytest.mark.integration
def test_adapter_reloads_in_new_process_and_reproduces_summaries(tiny_run, tmp_path):
    _, result, captured, _ = tiny_run
    process = run_python(["-c", RELOAD, str(result.output_dir), str(tmp_path)], cwd=tmp_path)
    assert process.returncode == 0, process.stderr[-3000:]
    expected = [row["prediction"] for row in read_jsonl(result.output_dir / "predictions_validation.jsonl")]
    assert json.loads((tmp_path / "summaries.json").read_text()) == expected
    # and the reloaded model is tensor for tensor the trained one
    reloaded = load_file(str(tmp_path / "state.safetensors"))
    trained = captured.summarizer.model.state_dict()
    assert set(reloaded) == set(trained)
    different = [k for k in trained if not torch.equal(reloaded[k], trained[k])]
    assert not different


# ---------------------------------------------------------------- the CLI


def test_cli_train_end_to_end(tiny_bert, dialog_jsonl, tmp_path):
    output = tmp_path / "cli-run"
    args = [
        "train", "--encoder", str(tiny_bert), "--decoder", str(tiny_bert), "--data", str(dialog_jsonl),
        "--leave-out", "0,1", "--max-steps", "2", "--batch-size", "8", "--logging-steps", "1",
        "--max-source-length", "64", "--max-target-length", "16", "--max-eval-samples", "3",
        "--num-beams", "1", "--max-new-tokens", "4", "--min-new-tokens", "1", "--output-dir", str(output),
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, (result.output, repr(result.exception))
    assert f"run written to {output}" in " ".join(result.stderr.split())
    config = json.loads((output / "run_config.json").read_text())
    assert config["model"]["leave_out"] == [0, 1]
    assert config["train"]["max_steps"] == 2 and config["generation"]["num_beams"] == 1
    saved = load_file(str(output / "adapter" / "adapter.safetensors"))
    assert {(m.group(1), int(m.group(2))) for k in saved if (m := LAYER.match(k))} == {
        (stack, layer) for stack in ("encoder.encoder", "decoder.bert.encoder") for layer in (2, 3)
    }
    assert [line["step"] for line in read_jsonl(output / "metrics.jsonl") if "loss" in line] == [1, 2]
    assert len(read_jsonl(output / "predictions_validation.jsonl")) == 3
    assert json.loads((output / "run.json").read_text())["global_step"] == 2


@pytest.mark.integration
@pytest.mark.parametrize(
    "leave_out,message",
    [("0,x", "--leave-out: 'x' is not a layer id"), ("9", "--leave-out ids [9] exist in neither stack")],
)
def test_cli_bad_leave_out_is_one_line_error(tiny_bert, dialog_jsonl, tmp_path, leave_out, message):
    output = tmp_path / "never"
    process = run_cli(
        [
            "train", "--encoder", str(tiny_bert), "--decoder", str(tiny_bert),
            "--data", str(dialog_jsonl), "--leave-out", leave_out, "--output-dir", str(output),
        ],  # fmt: skip
        cwd=tmp_path,
        timeout=300,
        env=cli_env(COLUMNS="80"),
    )
    assert process.returncode == 1
    assert "Traceback" not in process.stderr + process.stdout
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1, process.stderr
    assert lines[0].startswith("error: ") and message in lines[0]
    assert not output.exists()


# ---------------------------------------------------------------- real data: the loss goes down


@pytest.mark.real_data
def test_loss_decreases_on_real_dialogsum(shared_data_dir, tmp_path):
    config = RunConfig(
        model=ModelArgs(leave_out=[0, 1]),  # the bundled MiniLM as encoder and decoder
        data=DataArgs(
            data=str(shared_data_dir / "dialogsum"), max_train_samples=64, max_eval_samples=4,
            max_source_length=128, max_target_length=48,
        ),  # fmt: skip
        train=TrainArgs(
            max_steps=20, batch_size=4, learning_rate=1e-3, warmup_ratio=0.1, logging_steps=4, output_dir=str(tmp_path / "run")
        ),
        generation=GenerationArgs(num_beams=1, max_new_tokens=8, min_new_tokens=1, batch_size=4),
    )
    result = training.train(config, console=Console(file=io.StringIO()))
    losses = [line["loss"] for line in read_jsonl(result.output_dir / "metrics.jsonl") if "loss" in line]
    assert len(losses) == 5
    first, last = sum(losses[:2]) / 2, sum(losses[-2:]) / 2
    assert last < 0.75 * first, losses
    # group_by_length orders each epoch's 16 batches longest first, so the loss of steps 17-20 (start of
    # epoch 2) and of steps 1-4 (start of epoch 1) come from equally long dialogues: a like-for-like drop
    assert losses[-1] < 0.75 * losses[0], losses
    assert losses[-1] < math.log(30522) - 3  # well below a uniform guess over the vocabulary


def test_a_data_mistake_is_reported_before_the_model_is_built(tiny_bert, tmp_path, monkeypatch):
    """A missing column needs no checkpoint to find: it is reported before build_summarizer runs."""
    data = write_jsonl(tmp_path / "no-summary.jsonl", [{"dialogue": "#Person1#: Hi.", "notes": "x"}] * 4)
    monkeypatch.setattr(training, "build_summarizer", lambda margs, **_: pytest.fail("the model was built before the data was checked"))
    with pytest.raises(S2SAError, match="summary column"):
        training.train(tiny_config(tiny_bert, data, tmp_path / "run"), console=Console(file=io.StringIO()))
    assert not (tmp_path / "run").exists()


def test_checkpoint_prefix_is_the_trainers():
    """checkpoint_dirs names checkpoint-N folders without importing transformers; the Trainer must agree."""
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    from seq2seq_adapters.layout.checkpoint_folder import CHECKPOINT_PREFIX

    assert CHECKPOINT_PREFIX == PREFIX_CHECKPOINT_DIR
