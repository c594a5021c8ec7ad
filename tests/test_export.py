"""`s2sa export-adapter`: adapters-format export, model card, merged plain-transformers export.

Every check of a loaded export runs in a fresh Python process (no state shared with the training
process): plain `adapters` code taken from the model card, `load_summarizer`, and plain transformers
with `adapters` blocked.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import torch
import yaml
from conftest import run_cli, run_python
from rich.console import Console
from safetensors import safe_open
from typer.testing import CliRunner

from seq2seq_adapters.cli import app
from seq2seq_adapters.config.loading import load_config
from seq2seq_adapters.config.policy import TrainPolicy
from seq2seq_adapters.config.schema import ModelArgs
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.export import writer as export_module
from seq2seq_adapters.export.model_card import license_id
from seq2seq_adapters.export.writer import export_adapter
from seq2seq_adapters.layout.export_folder import resolve_export_source
from seq2seq_adapters.model.artifact_io import ArtifactInfo, read_info, save_artifact
from seq2seq_adapters.model.builder import build_summarizer
from seq2seq_adapters.training.recipe import train

pytestmark = pytest.mark.integration

SUMMARIZE = '''
import json, sys, torch

def summarize(model, tokenizer, documents, max_length, batch_size, **kwargs):
    """Greedy/beam summaries batched as seq2seq_adapters batches them (longest first, right padding)."""
    lengths = [len(ids) for ids in tokenizer(documents, truncation=True, max_length=max_length)["input_ids"]]
    order = sorted(range(len(documents)), key=lambda i: (-lengths[i], i))
    summaries = [None] * len(documents)
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        inputs = tokenizer([documents[i] for i in batch], return_tensors="pt", padding=True, truncation=True,
                           max_length=max_length, return_token_type_ids=False)
        with torch.inference_mode():
            output = model.generate(**inputs, **kwargs)
        for i, text in zip(batch, tokenizer.batch_decode(output, skip_special_tokens=True)):
            summaries[i] = text.strip()
    return summaries
'''

BLOCK_ADAPTERS = '''
import sys
sys.modules["adapters"] = None  # `import adapters` now raises ImportError
try:
    import adapters
except ImportError:
    pass
else:
    raise SystemExit("adapters is importable")
'''


def printed_json(code: str, *args: str) -> object:
    """Run `code` in a fresh interpreter; return the JSON printed on its last stdout line."""
    result = run_python(["-c", code, *args], timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def train_run(directory: Path, tiny_bert: Path, data: Path, adapter_config: str, **train_overrides) -> Path:
    """A few optimizer steps of a tiny BERT2BERT with greedy validation summaries."""
    config = load_config(
        None,
        {
            "model": {"encoder": str(tiny_bert), "decoder": str(tiny_bert), "adapter_config": adapter_config, "leave_out": [0]},
            "data": {"data": str(data), "max_eval_samples": 6, "max_source_length": 48, "max_target_length": 20},
            "train": {"batch_size": 8, "learning_rate": 5e-3, "logging_steps": 2, "output_dir": str(directory), **train_overrides},
            "generation": {"num_beams": 1, "max_new_tokens": 10, "min_new_tokens": 3, "batch_size": 16},
        },
    )
    train(config, console=Console(file=io.StringIO()))
    return directory


@pytest.fixture(scope="module")
def lora_run(tiny_bert, dialog_jsonl, tmp_path_factory) -> Path:
    """4 LoRA steps with validation loss every 2 (checkpoints 2 and 4, the best one kept)."""
    return train_run(tmp_path_factory.mktemp("lora") / "run", tiny_bert, dialog_jsonl, "lora[r=4,alpha=8]",
                     max_steps=4, eval_steps=2, save_steps=2)


@pytest.fixture(scope="module")
def bottleneck_run(tiny_bert, dialog_jsonl, tmp_path_factory) -> Path:
    return train_run(tmp_path_factory.mktemp("seq-bn") / "run", tiny_bert, dialog_jsonl, "seq_bn", max_steps=1)


@pytest.fixture(scope="module")
def lora_export(lora_run, tmp_path_factory) -> Path:
    return export_adapter(lora_run, tmp_path_factory.mktemp("exports") / "lora-export")


def run_predictions(run_dir: Path) -> tuple[list[str], list[str]]:
    """Documents and generated summaries of the run's validation split, in input order."""
    rows = [json.loads(line) for line in (run_dir / "predictions_validation.jsonl").read_text().splitlines()]
    return [r["document"] for r in rows], [r["prediction"] for r in rows]


def card_code_blocks(export_dir: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (export_dir / "README.md").read_text(), flags=re.S)


def card_metadata(export_dir: Path) -> dict:
    text = (export_dir / "README.md").read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n", 2)[1])


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


def test_plain_adapters_code_from_the_card_reproduces_the_runs_summaries(lora_run, lora_export):
    documents, expected = run_predictions(lora_run)
    info = read_info(lora_export)
    loading = card_code_blocks(lora_export)[0].split("documents = ")[0]
    assert "seq2seq_adapters" not in loading and "adapters.init(model)" in loading
    # the default trains the head but not the cross-attention: the card rebuilds its copy of self-attention
    assert "layer.crossattention.load_state_dict(layer.attention.state_dict())" in loading
    code = loading + SUMMARIZE + f'''
assert not any(name.startswith("seq2seq_adapters") for name in sys.modules)
documents = json.loads(sys.argv[1])
print(json.dumps(summarize(model, tokenizer, documents, {info.max_source_length}, {info.generation.batch_size},
                           generation_config=generation_config)))
'''
    assert printed_json(code, json.dumps(documents)) == expected
    assert any(expected), "the tiny run should generate some text"


def test_load_summarizer_on_the_export_reproduces_the_runs_summaries(lora_run, lora_export):
    documents, expected = run_predictions(lora_run)
    code = f'''
import json, sys
from seq2seq_adapters import load_summarizer
from seq2seq_adapters.model.artifact_io import read_info
from seq2seq_adapters.generation.decoding import generate_summaries
model, tokenizer = load_summarizer({str(lora_export)!r})
info = read_info({str(lora_export)!r})
assert model.generation_config.max_new_tokens == info.generation.max_new_tokens
print(json.dumps(generate_summaries(model, tokenizer, json.loads(sys.argv[1]), info.generation_args, info.max_source_length)))
'''
    assert printed_json(code, json.dumps(documents)) == expected


def test_merged_lora_loads_without_adapters_and_summarizes_like_the_adapter(lora_run, tmp_path):
    merged = export_adapter(lora_run, tmp_path / "merged", merge=True)
    config = json.loads((merged / "config.json").read_text())
    assert "adapters" not in json.dumps(config)
    with safe_open(str(merged / "model.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert keys and not [k for k in keys if "lora" in k or "adapter" in k or "prompt_tuning" in k]
    assert not (merged / "s2sa.json").exists() and not (merged / "adapter_config.json").exists()
    assert card_metadata(merged)["library_name"] == "transformers"

    documents, adapter_summaries = run_predictions(lora_run)  # the run generated greedily (num_beams=1)
    info = read_info(lora_run / "adapter")
    code = BLOCK_ADAPTERS + SUMMARIZE + f'''
from transformers import AutoTokenizer, EncoderDecoderModel
model, loading = EncoderDecoderModel.from_pretrained({str(merged)!r}, output_loading_info=True)
assert not any(loading.values()), loading
model.eval()
tokenizer = AutoTokenizer.from_pretrained({str(merged)!r})
assert model.generation_config.num_beams == 1 and model.generation_config.max_new_tokens == {info.generation.max_new_tokens}
print(json.dumps(summarize(model, tokenizer, json.loads(sys.argv[1]), {info.max_source_length},
                           {info.generation.batch_size}, num_beams=1, do_sample=False)))
'''
    assert printed_json(code, json.dumps(documents)) == adapter_summaries


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


def test_merge_of_a_bottleneck_adapter_fails_with_one_clear_line(bottleneck_run, tmp_path):
    output = tmp_path / "out" / "merged"
    result = run_cli(["export-adapter", str(bottleneck_run), "--output", str(output), "--merge"])
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "'seq_bn' (bottleneck) cannot be merged" in lines[0] and "only lora, ia3" in lines[0]
    assert not output.exists() and not output.parent.exists()
    # without --merge the bottleneck adapter exports fine
    exported = export_adapter(bottleneck_run, tmp_path / "plain")
    assert "reduction_factor" in json.loads((exported / "adapter_config.json").read_text())["config"]
    assert (exported / "adapter.safetensors").is_file() and (exported / "README.md").is_file()


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


def test_license_ids():
    assert license_id("MIT (ACLSum)") == "mit"
    assert license_id("cc-by-nc-sa-4.0") == "cc-by-nc-sa-4.0"
    assert license_id("see /data/LICENSE") == "other"
    assert license_id(None) == "unknown"


def test_merged_ia3_scales_the_biases_too(tiny_bert, tmp_path):
    """adapters' merge_adapter folds (IA)^3 into the weight only; the layer's bias is scaled as well."""
    from transformers import BertModel

    torch.manual_seed(1)
    base = BertModel.from_pretrained(tiny_bert)
    with torch.no_grad():
        for name, parameter in base.named_parameters():
            if name.endswith("bias"):
                parameter.normal_(0, 0.5)  # tiny_bert's biases are zero, which would hide a missing bias scale
    base.save_pretrained(tmp_path / "base")
    for name in ("tokenizer_config.json", "vocab.txt", "special_tokens_map.json", "tokenizer.json"):
        if (tiny_bert / name).is_file():
            (tmp_path / "base" / name).write_bytes((tiny_bert / name).read_bytes())
    margs = ModelArgs(encoder=str(tmp_path / "base"), decoder=str(tmp_path / "base"), adapter_config="ia3")
    summarizer = build_summarizer(margs)
    with torch.no_grad():
        for name, parameter in summarizer.model.named_parameters():
            if "summarization" in name.split("."):
                parameter.add_(torch.randn_like(parameter) * 0.5)
    info = ArtifactInfo(model=vars(margs), generation={"num_beams": 1}, new_weight_names=summarizer.new_weight_names,
                        max_source_length=64)
    save_artifact(tmp_path / "run" / "adapter", summarizer, info)
    summarizer.model.eval()
    input_ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102]])
    decoder_input_ids = torch.tensor([[101, 2023, 2003]])
    with torch.no_grad():
        expected = summarizer.model(input_ids=input_ids, decoder_input_ids=decoder_input_ids).logits

    merged = export_adapter(tmp_path / "run", tmp_path / "merged", merge=True)
    code = BLOCK_ADAPTERS + f'''
import json, torch
from transformers import EncoderDecoderModel
model = EncoderDecoderModel.from_pretrained({str(merged)!r}).eval()
with torch.no_grad():
    logits = model(input_ids=torch.tensor({input_ids.tolist()}), decoder_input_ids=torch.tensor({decoder_input_ids.tolist()})).logits
print(json.dumps(logits.tolist()))
'''
    logits = torch.tensor(printed_json(code))
    assert torch.allclose(logits, expected, atol=1e-4), (logits - expected).abs().max()
