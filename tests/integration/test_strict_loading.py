"""Weights are accounted for at load: NaN or inf in any stored tensor is refused in one line naming it (they
made every summary '[unused0] [unused1] ...' with exit 0), and a merged export is named as such by the
commands that need an adapter."""

from __future__ import annotations

import pytest
from conftest import assert_one_line_error, run_cli
from safetensors.torch import load_file, save_file


def damage(path, pick, value):
    tensors = load_file(str(path))
    name = next(key for key in sorted(tensors) if pick(key))
    tensors[name].view(-1)[0] = value
    save_file(tensors, str(path), metadata={"format": "pt"})
    return name


@pytest.mark.parametrize(
    "file, pick, value",
    [
        ("adapter.safetensors", lambda key: "lora_B" in key, float("nan")),
        ("non_adapter_weights.safetensors", lambda key: key == "decoder.cls.predictions.bias", float("inf")),
    ],
)
def test_non_finite_weights_are_refused_naming_the_tensor(stored_pair, tmp_path, file, pick, value):
    name = damage(stored_pair / "export" / file, pick, value)
    summarize = run_cli(["summarize", str(stored_pair / "export"), str(stored_pair / "doc1.txt")])
    assert_one_line_error(summarize, f"tensor {name} holds NaN or inf values")
    assert summarize.stdout == ""
    evaluate = run_cli(["eval", str(stored_pair / "export"), "--data", str(stored_pair / "dialogs.jsonl"),
                        "--max-samples", "2", "--output-dir", str(tmp_path / "eval")])
    assert_one_line_error(evaluate, f"tensor {name} holds NaN or inf values")
    assert not (tmp_path / "eval").exists()


@pytest.mark.parametrize(
    "edit, needle",
    [
        # the union without its LoRA part: the stored lora tensors would be skipped
        (lambda config: config.update(config=config["config"]["configs"][1]), "(configs: None there, [{"),
        # every layer left out: nothing would load
        (lambda config: [c.update(leave_out=list(range(12))) for c in config["config"]["configs"]], "(configs[0].leave_out: [0, 1, 2, 3, ...] there, [0] by s2sa.json)"),
        # LoRA's alpha: the same tensors, other summaries
        (lambda config: config["config"]["configs"][0].update(alpha=64), "(configs[0].alpha: 64 there, 8 by s2sa.json)"),
    ],
)
def test_an_edited_adapter_config_is_refused(stored_pair, edit, needle):
    import json

    path = stored_pair / "export" / "adapter_config.json"
    config = json.loads(path.read_text())
    edit(config)
    path.write_text(json.dumps(config))
    assert_one_line_error(run_cli(["summarize", str(stored_pair / "export"), str(stored_pair / "doc1.txt")]),
                          "adapter_config.json does not describe the adapter s2sa.json names", needle)


def test_an_extra_tensor_in_the_adapter_file_is_refused(stored_pair):
    import torch

    path = stored_pair / "export" / "adapter.safetensors"
    tensors = load_file(str(path))
    tensors["decoder.bert.encoder.layer.1.attention.output.adapters.stored.extra"] = torch.zeros(2)
    save_file(tensors, str(path), metadata={"format": "pt"})
    assert_one_line_error(run_cli(["summarize", str(stored_pair / "export"), str(stored_pair / "doc1.txt")]),
                          "holds 1 tensors the adapter of adapter_config.json does not have", "adapters.stored.extra")
