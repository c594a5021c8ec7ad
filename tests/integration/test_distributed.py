"""torchrun on CPU (gloo): two processes train like one process with the same global batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import free_port, run_cli, run_python
from safetensors.torch import load_file
from tiny import make_tiny_bert, write_jsonl


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A dropout-free tiny BERT and dialogues whose summaries all have the same token count."""
    base = tmp_path_factory.mktemp("ddp")
    model = make_tiny_bert(base / "tiny", dropout=0.0)
    rows = [
        {"id": f"x{i}", "document": f"Speaker {i} said the meeting moves to room {i % 7} on day {i % 5}. " * (1 + i % 3),
         "summary": f"meeting moves to room {i % 7}."}
        for i in range(48)
    ]
    return model, write_jsonl(base / "data.jsonl", rows), base


def train_args(model: Path, data: Path, out: Path, batch: int) -> list[str]:
    return [
        "train", "--encoder", str(model), "--decoder", str(model), "--data", str(data), "--leave-out", "0",
        "--max-steps", "4", "--batch-size", str(batch), "--learning-rate", "1e-3", "--logging-steps", "1",
        "--max-source-length", "64", "--num-beams", "1", "--max-new-tokens", "8", "--min-new-tokens", "1", "--max-eval-samples", "6",
        "--output-dir", str(out), "--seed", "7", "--no-group-by-length",
    ]


def test_torchrun_two_processes_match_one_process(setup):
    model, data, base = setup
    single = run_cli([*train_args(model, data, base / "single", 8)])
    assert single.returncode == 0, single.stderr[-3000:]
    ddp = run_python([
        "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(free_port()),
        "-m", "seq2seq_adapters", *train_args(model, data, base / "ddp", 4),
    ])
    assert ddp.returncode == 0, ddp.stderr[-3000:]

    record = json.loads((base / "ddp" / "run.json").read_text())
    assert record["world_size"] == 2 and record["effective_batch_size"] == 8
    assert len(list((base / "ddp" / "checkpoints").iterdir())) == 1, "only rank 0 writes one set of checkpoints"
    assert (base / "ddp" / "rouge_validation.json").is_file()

    for name in ("adapter.safetensors", "non_adapter_weights.safetensors"):
        one = load_file(base / "single" / "adapter" / name)
        two = load_file(base / "ddp" / "adapter" / name)
        assert one.keys() == two.keys()
        for key in one:
            torch.testing.assert_close(two[key], one[key], rtol=1e-4, atol=1e-6, msg=f"{name}:{key}")

    single_losses = [json.loads(line)["loss"] for line in (base / "single" / "metrics.jsonl").read_text().splitlines() if '"loss"' in line]
    ddp_losses = [json.loads(line)["loss"] for line in (base / "ddp" / "metrics.jsonl").read_text().splitlines() if '"loss"' in line]
    assert ddp_losses == pytest.approx(single_losses, rel=1e-4), "logged loss is the true mean, not scaled"

    single_preds = (base / "single" / "predictions_validation.jsonl").read_text()
    ddp_preds = (base / "ddp" / "predictions_validation.jsonl").read_text()
    n_examples = [json.loads((base / run / "rouge_validation.json").read_text())["systems"]["model"]["n_examples"] for run in ("single", "ddp")]
    assert n_examples[0] == n_examples[1] == len(single_preds.splitlines()), "sharded eval gathers every example"
    assert ddp_preds == single_preds, "sharded generation gives the single-process predictions, in order"
    rouge = [json.loads((base / run / "rouge_validation.json").read_text())["systems"] for run in ("single", "ddp")]
    assert rouge[0] == rouge[1]


def test_adapter_from_ddp_run_reloads(setup):
    _, _, base = setup
    if not (base / "ddp" / "adapter").is_dir():
        pytest.skip("needs the torchrun run of the previous test")
    code = (
        "from seq2seq_adapters import load_summarizer\n"
        f"model, tok = load_summarizer({str(base / 'ddp')!r})\n"
        "print(type(model).__name__)\n"
    )
    result = run_python(["-c", code])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "EncoderDecoderModel" in result.stdout


def test_sharded_eval_equals_single_process_eval(setup):
    _, _, base = setup
    if not (base / "single" / "adapter").is_dir():
        pytest.skip("needs the single-process run of the first test")
    eval_args = ["eval", str(base / "single"), "--split", "validation", "--num-beams", "2"]
    single = run_cli([*eval_args, "--output-dir", str(base / "eval-single")])
    assert single.returncode == 0, single.stderr[-3000:]
    sharded = run_python([
        "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(free_port()),
        "-m", "seq2seq_adapters", *eval_args, "--output-dir", str(base / "eval-sharded"),
    ])
    assert sharded.returncode == 0, sharded.stderr[-3000:]
    assert (base / "eval-sharded" / "predictions_validation.jsonl").read_text() == (
        base / "eval-single" / "predictions_validation.jsonl"
    ).read_text()
    reports = [json.loads((base / d / "rouge_validation.json").read_text()) for d in ("eval-single", "eval-sharded")]
    assert reports[0]["systems"] == reports[1]["systems"]
