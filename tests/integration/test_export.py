"""`s2sa export-adapter`'s exports loaded in a fresh Python process (no state shared with the training process):
plain `adapters` code taken from the model card, `load_summarizer`, and plain transformers with `adapters` blocked
(merged LoRA and (IA)^3); a bottleneck adapter's `--merge` refused in one line by the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import run_cli, run_python
from safetensors import safe_open
from tiny import EXPORTED_RUN, card_code_blocks, card_metadata, tiny_run_config, train_tiny

from seq2seq_adapters.config.schema import ModelArgs
from seq2seq_adapters.export.writer import export_adapter
from seq2seq_adapters.model.artifact_io import ArtifactInfo, read_info, save_artifact
from seq2seq_adapters.model.builder import build_summarizer

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


@pytest.fixture(scope="module")
def bottleneck_run(tiny_bert, dialog_jsonl, tmp_path_factory) -> Path:
    config = tiny_run_config(tiny_bert, dialog_jsonl, tmp_path_factory.mktemp("seq-bn") / "run", EXPORTED_RUN,
                             model={"adapter_config": "seq_bn"}, train={"max_steps": 1})
    return train_tiny(config).output_dir


def run_predictions(run_dir: Path) -> tuple[list[str], list[str]]:
    """Documents and generated summaries of the run's validation split, in input order."""
    rows = [json.loads(line) for line in (run_dir / "predictions_validation.jsonl").read_text().splitlines()]
    return [r["document"] for r in rows], [r["prediction"] for r in rows]


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
