"""`s2sa export-adapter` in this process: the exported files, the model card's numbers, `--checkpoint`,
`--quantize int8`, and the output guard (loading the exports in a fresh process: tests/integration/test_export.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny import card_code_blocks, card_metadata
from typer.testing import CliRunner

from seq2seq_adapters.cli import app
from seq2seq_adapters.config.policy import TrainPolicy
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.export import writer as export_module
from seq2seq_adapters.export.writer import export_adapter, write_export
from seq2seq_adapters.layout.export_folder import plan_export, resolve_export_source
from seq2seq_adapters.model.artifact_io import read_info


def test_export_holds_adapter_weights_tokenizer_and_card(lora_run, lora_export):
    names = {p.name for p in lora_export.iterdir()}
    assert {
        "adapter_config.json", "adapter.safetensors", "non_adapter_weights.safetensors", "s2sa.json",
        "generation_config.json", "tokenizer_config.json", "vocab.txt", "README.md",
    } <= names
    assert not any(n.endswith((".bin", ".pt")) for n in names)
    for name in ("adapter.safetensors", "non_adapter_weights.safetensors", "s2sa.json"):
        assert (lora_export / name).read_bytes() == (lora_run / "adapter" / name).read_bytes()
    assert [p.name for p in lora_export.parent.iterdir()] == ["lora-export"]  # no staging folder left


def test_export_with_quantize_int8_records_it_and_loads_as_int8(lora_run, tmp_path):
    """--quantize int8 goes into the export's decoding settings; s2sa then loads it as the int8 CPU model."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicInt8Linear

    from seq2seq_adapters import load_summarizer

    exported = export_adapter(lora_run, tmp_path / "int8", quantize="int8")
    assert read_info(exported).generation.quantize == "int8"
    assert read_info(lora_run / "adapter").generation.quantize == "none"  # the run is left as it was
    assert "int8 Linear layers" in (exported / "README.md").read_text()
    model, _ = load_summarizer(exported)
    assert any(isinstance(module, DynamicInt8Linear) for module in model.modules())


def test_model_card_names_the_runs_numbers(lora_run, lora_export, tiny_bert):
    run = json.loads((lora_run / "run.json").read_text())
    rouge = json.loads((lora_run / "rouge_validation.json").read_text())
    card = (lora_export / "README.md").read_text()
    meta = card_metadata(lora_export)
    assert meta["library_name"] == "adapter-transformers"
    assert meta["base_model"] == str(tiny_bert)
    assert meta["datasets"] == ["dialogs.jsonl"]
    assert meta["license"] == "unknown" and run["data"]["license"] is None
    assert "lora" in meta["tags"] and meta["pipeline_tag"] == "summarization"
    values = {m["type"]: m["value"] for m in meta["model-index"][0]["results"][0]["metrics"]}
    assert values == run["rouge_validation"]

    summary = run["parameters"]
    for group in summary["groups"].values():
        assert f"{group['count']:,} | {group['percent']:.2f} | {'yes' if group['trained'] else 'no'} |" in card
    for number in (summary["total"], summary["trained"]):
        assert f"{number:,}" in card
    assert f"| trained weights (`--train`) | {TrainPolicy.parse(run['config']['model']['train'])} |" in card
    for system in rouge["systems"].values():  # model and lead-k, with confidence intervals
        stats = system["aggregate"]["rouge1"]["fmeasure"]
        assert f"{100 * stats['mean']:.2f} [{100 * stats['low']:.2f}, {100 * stats['high']:.2f}]" in card
    assert run["global_step"] == 4 and "| optimizer steps | 4 (exported weights: step " in card
    assert "`lora[r=4,alpha=8]`" in card and "leave_out | layers 0 of the encoder and of the decoder" in card
    assert "| num_beams | 1 |" in card and "| max_new_tokens | 10 |" in card
    assert "Training data licence: unknown" in card
    assert str(tiny_bert) in card_code_blocks(lora_export)[0]
    assert "load_summarizer(" in card_code_blocks(lora_export)[1]


def test_checkpoint_choice(lora_run, tmp_path):
    state = json.loads((lora_run / "checkpoints" / "checkpoint-4" / "trainer_state.json").read_text())
    best = Path(state["best_model_checkpoint"]).name
    assert resolve_export_source(lora_run, None, state).directory == lora_run / "adapter"
    assert resolve_export_source(lora_run, "last", state).directory == lora_run / "checkpoints/checkpoint-4/adapter"
    assert resolve_export_source(lora_run, "best", state).directory == lora_run / "checkpoints" / best / "adapter"
    assert resolve_export_source(lora_run, "2", state).directory == lora_run / "checkpoints/checkpoint-2/adapter"
    assert resolve_export_source(lora_run, "best", {}).directory == lora_run / "adapter"  # no best kept
    with pytest.raises(S2SAError, match="checkpoint-7 does not exist; complete checkpoints: checkpoint-2, checkpoint-4"):
        resolve_export_source(lora_run, "7", state)
    with pytest.raises(S2SAError, match="expected best, last or a step number"):
        resolve_export_source(lora_run, "newest", state)

    result = CliRunner().invoke(app, ["export-adapter", str(lora_run), "--output", str(tmp_path / "c2"), "--checkpoint", "2"])
    assert result.exit_code == 0, result.output
    source = lora_run / "checkpoints" / "checkpoint-2" / "adapter"
    assert (tmp_path / "c2" / "adapter.safetensors").read_bytes() == (source / "adapter.safetensors").read_bytes()
    card = (tmp_path / "c2" / "README.md").read_text()
    assert "`checkpoints/checkpoint-2`" in card and "(exported weights: step 2)" in card
    if best != "checkpoint-2":
        assert "these scores were measured with the run's final adapter" in card


def test_existing_output_is_refused_and_a_failed_export_leaves_nothing(lora_run, tmp_path, monkeypatch):
    output = tmp_path / "export"
    output.mkdir()
    (output / "keep.txt").write_text("mine")
    with pytest.raises(S2SAError, match="is not empty; pass --overwrite"):
        export_adapter(lora_run, output)
    with pytest.raises(S2SAError, match="would replace the run"):
        export_adapter(lora_run, lora_run, overwrite=True)
    with pytest.raises(S2SAError, match="would replace the run's checkpoints/"):
        export_adapter(lora_run, lora_run / "checkpoints", checkpoint="last", overwrite=True)
    monkeypatch.chdir(output)  # the current folder is protected for export too
    with pytest.raises(S2SAError, match="would replace the current directory"):
        export_adapter(lora_run, Path("."), overwrite=True)
    monkeypatch.chdir(tmp_path)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(export_module, "model_card", interrupted)
    with pytest.raises(S2SAError, match="holds files s2sa did not write"):
        export_adapter(lora_run, output, overwrite=True)
    (output / ".s2sa").write_text("")  # an earlier export: --overwrite may replace it, an interruption must not
    with pytest.raises(KeyboardInterrupt):
        export_adapter(lora_run, output, overwrite=True)
    with pytest.raises(KeyboardInterrupt):
        export_adapter(lora_run, tmp_path / "fresh")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]  # no staging folders, no half export
    assert sorted(p.name for p in output.iterdir()) == [".s2sa", "keep.txt"]

    monkeypatch.undo()
    export_adapter(lora_run, output, overwrite=True)
    assert not (output / "keep.txt").exists() and (output / "adapter.safetensors").is_file()


def test_the_output_is_checked_again_once_the_writer_holds_it(lora_run, tmp_path):
    """Files put into --output between the plan and the write (another program) are not replaced."""
    output = tmp_path / "export"
    plan = plan_export(lora_run, output, checkpoint=None, overwrite=True)
    output.mkdir()
    (output / "notes.txt").write_text("written after the plan")
    with pytest.raises(S2SAError, match="holds files s2sa did not write"):
        write_export(plan, output, overwrite=True)
    assert (output / "notes.txt").read_text() == "written after the plan"
