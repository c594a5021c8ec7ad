"""`s2sa train` seen from outside: a run reloads in a fresh process to the same tensors and summaries; a bad
flag is one error line from the real CLI before anything is written."""

from __future__ import annotations

import json
import textwrap

import pytest
import torch
from conftest import assert_one_line_error, cli_env, run_cli, run_python
from safetensors.torch import load_file
from tiny import read_jsonl

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


def test_adapter_reloads_in_new_process_and_reproduces_summaries(tiny_run, tmp_path):
    result, captured = tiny_run.result, tiny_run
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


@pytest.mark.parametrize("args", [["--marker-tokens", "Person1"], ["model.marker_tokens=#Person1#,Person2"]])
def test_a_wrong_marker_is_a_one_line_error_before_anything_is_written(args, tiny_bert, dialog_jsonl, tmp_path):
    output = tmp_path / "never"
    process = run_cli(["train", "--encoder", str(tiny_bert), "--data", str(dialog_jsonl), "--output-dir", str(output), *args], cwd=tmp_path)
    assert_one_line_error(process, "is not a marker like #Person1#")
    assert not output.exists()
