"""The GPU scripts of issue 31 on the CPU, with the tiny BERT. Their numbers here are no figures, but every path
they take on a GPU machine runs in CI, so that scarce GPU time is not spent finding a script's bug."""

from __future__ import annotations

import importlib
import json
import math
import subprocess

import pytest
import torch
from conftest import ROOT, run_python
from safetensors.torch import load_file
from tiny import split_folder

SCRIPTS = ROOT / "scripts"


@pytest.fixture
def script(monkeypatch):
    """Import a script of scripts/ as its own command would (its folder first on sys.path)."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    monkeypatch.syspath_prepend(str(SCRIPTS / "device"))
    return importlib.import_module


def test_bench_train_times_both_pipelines_in_bf16_and_probes_the_largest_batch(tiny_bert, dialog_jsonl, tmp_path):
    out = tmp_path / "train.json"
    result = run_python([str(SCRIPTS / "bench_train.py"), "--data", str(split_folder(dialog_jsonl, tmp_path / "data")),
                         "--model", str(tiny_bert), "--samples", "48", "--warmup-steps", "1", "--steps", "2", "--batch-size", "4",
                         "--rounds", "1", "--source-length", "64", "--target-length", "24", "--heldout", "8", "--no-flops",
                         "--precision", "bf16", "--largest-batch", "--batch-limit", "4", "--json", str(out)])  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    numbers = json.loads(out.read_text())
    assert numbers["precision"] == "bf16" and numbers["steps"] == 2 and numbers["warmup_steps"] == 1
    assert {name: found["largest_batch"] for name, found in numbers["largest_batch"].items()} == {"reference": 4, "s2sa": 4}
    assert list(numbers["by_batch_size"]) == ["4"]  # the largest is the user's batch: not timed twice
    for name, mean in numbers["by_batch_size"]["4"].items():
        assert mean["name"] == name and mean["samples_per_s"] > 0 and mean["peak_memory_mib"] > 0, mean
        assert mean["memory"] == "resident (RSS)" and mean["device"] == "cpu" and math.isfinite(mean["final_loss"])
    assert "speed-up (samples/s)" in result.stdout and "peak memory" in result.stdout


OUT_OF_MEMORY_ABOVE_6 = """
import json, sys, torch
sys.path.insert(0, sys.argv[1])
import bench_train

build = bench_train.PIPELINES["s2sa"]


def with_small_memory(config, *rest):
    trainer, batch_size = build(config, *rest), config.train.batch_size
    train = trainer.train

    def train_or_out_of_memory(*args, **kwargs):
        result = train(*args, **kwargs)  # the steps run, and then the memory runs out (as after a first step on CUDA)
        if batch_size > 6:
            raise torch.OutOfMemoryError("CUDA out of memory (a stand-in)")
        return result

    trainer.train = train_or_out_of_memory
    return trainer


bench_train.PIPELINES["s2sa"] = with_small_memory
print(json.dumps(bench_train.find_largest_batch("s2sa", bench_train.build_parser().parse_args(sys.argv[2:]))))
"""


def test_an_out_of_memory_batch_is_too_large_and_the_search_goes_on(tiny_bert, dialog_jsonl, tmp_path):
    """The probe's except path, with CUDA's error raised above batch 6 by a stand-in: 4 and 6 fit, 8 and 7 do not."""
    result = run_python(["-c", OUT_OF_MEMORY_ABOVE_6, str(SCRIPTS), "--data", str(split_folder(dialog_jsonl, tmp_path / "data")),
                         "--model", str(tiny_bert), "--samples", "48", "--batch-size", "4", "--source-length", "64",
                         "--target-length", "24", "--heldout", "8"])  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.splitlines()[-1])
    assert found == {"largest_batch": 6, "tried": {"4": True, "8": False, "6": True, "7": False}}


def test_the_largest_batch_is_found_to_within_an_eighth(script):
    bisect_largest = script("bench_train").bisect_largest
    tried = []

    def fits_up_to(limit):
        return lambda size: tried.append(size) or size <= limit

    assert bisect_largest(fits_up_to(100), 16, 8192) in range(88, 101)
    assert max(tried) <= 128  # doubling stops at the first that does not fit
    assert bisect_largest(fits_up_to(10**6), 16, 1000) in range(875, 1001)  # never above the limit
    assert bisect_largest(fits_up_to(8), 16, 8192) == 0  # not even the start


def test_the_probe_batch_is_the_longest_rows(script):
    import datasets

    longest_rows = script("bench_train").longest_rows
    rows = datasets.Dataset.from_dict({"input_ids": [[1] * n for n in (3, 9, 5)], "labels": [[1]] * 3})
    assert [len(ids) for ids in longest_rows(rows, 5)["input_ids"]] == [9, 5, 3, 9, 5]


def test_bench_generate_reports_tokens_per_second_and_peak_memory(tiny_run, dialog_jsonl, tmp_path):
    out = tmp_path / "generate.json"
    result = run_python([str(SCRIPTS / "bench_generate.py"), str(tiny_run.output_dir), "--data", str(dialog_jsonl),
                         "--examples", "4", "--no-int8", "--num-beams", "2", "--max-new-tokens", "4", "--json", str(out)])  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    numbers = json.loads(out.read_text())
    assert set(numbers["results"]) == {"trainer-style baseline", "eval path"} and numbers["device"] == "cpu"
    for path in numbers["results"].values():
        assert path["tokens_per_s"] > 0 and path["peak_memory_mib"] > 0 and path["identical_to_baseline"] == 4
    assert "| tokens/s |" in result.stdout and "| peak MiB |" in result.stdout


def test_converged_summary_finds_the_trainers_best_evaluation(script, lora_run, tmp_path):
    record = json.loads((lora_run / "run.json").read_text())
    summary = script("converged_summary")
    row = summary.summary_row(lora_run, epoch_steps=None, split="validation")
    assert row["steps"] == record["global_step"] == 4
    assert row["peak_step"] == record["best_checkpoint"]["step"]
    assert row["peak_metric"] == record["best_checkpoint"]["metric"].removeprefix("eval_")
    assert summary.main([str(lora_run), "--split", "validation", "--epoch-steps", "2", "--markdown", str(tmp_path / "c.md"),
                         "--plot", str(tmp_path / "c.png")]) == 0  # fmt: skip
    assert f"| {lora_run.name} | " in (tmp_path / "c.md").read_text() and " 4 (2.00) " in (tmp_path / "c.md").read_text()
    assert (tmp_path / "c.png").read_bytes().startswith(b"\x89PNG")


def test_minilm_travels_packed_and_unpacks_close_to_its_weights(script, tiny_bert, tmp_path):
    unpack_minilm = script("unpack_minilm")
    folder = tmp_path / "packed"
    folder.mkdir()
    unpack_minilm.pack(tiny_bert / "model.safetensors", folder)
    unpack_minilm.unpack(folder)
    original, unpacked = load_file(str(tiny_bert / "model.safetensors")), load_file(str(folder / "model.safetensors"))
    assert unpacked.keys() == original.keys()
    for name, tensor in original.items():
        assert unpacked[name].dtype == tensor.dtype
        if tensor.is_floating_point():
            rows = tensor.reshape(tensor.shape[0], -1) if tensor.dim() > 1 else tensor.reshape(1, -1)
            bound = rows.abs().amax(1, keepdim=True) / (127 if name.endswith("word_embeddings.weight") else 1000)
            assert ((unpacked[name].reshape(rows.shape) - rows).abs() <= bound + 1e-8).all(), name
        else:
            assert torch.equal(unpacked[name], tensor), name


def test_the_device_scripts_parse():
    for name in ("gpu_check.sh", "pack.sh"):
        subprocess.run(["bash", "-n", str(SCRIPTS / "device" / name)], check=True)
