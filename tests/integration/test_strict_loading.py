"""Weights are accounted for at load: NaN or inf in any stored tensor is refused in one line naming it (they
made every summary '[unused0] [unused1] ...' with exit 0), and a merged export is named as such by the
commands that need an adapter."""

from __future__ import annotations

import pytest
from conftest import assert_one_line_error, run_cli
from safetensors.torch import load_file, save_file

pytestmark = pytest.mark.integration


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
