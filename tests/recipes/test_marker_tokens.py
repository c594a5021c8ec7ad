"""A run with `marker_tokens: auto`: the markers resolved from the data and saved, what trains, the reload, the
exports and a resume."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file
from tiny import MARKERS, SIX_STEPS, TinyRun, card_code_blocks, tiny_run_config, train_tiny
from transformers import AutoTokenizer, EncoderDecoderModel

from seq2seq_adapters.config.schema import GenerationArgs, RunConfig
from seq2seq_adapters.export.writer import export_adapter
from seq2seq_adapters.generation.decoding import generate_summaries
from seq2seq_adapters.layout.artifact_folder import NON_ADAPTER_WEIGHTS
from seq2seq_adapters.model.artifact_io import load_artifact


@pytest.fixture(scope="module")
def marker_run(tiny_bert, dialog_jsonl, tmp_path_factory) -> TinyRun:
    """6 LoRA steps with `marker_tokens: auto` on the 64 tiny dialogues (#Person1# and #Person2# 128 times each)."""
    output_dir = tmp_path_factory.mktemp("markers") / "run"
    model = {"adapter_config": "lora[r=4,alpha=8]", "leave_out": [], "marker_tokens": "auto"}
    return train_tiny(tiny_run_config(tiny_bert, dialog_jsonl, output_dir, SIX_STEPS, model=model))


def test_auto_is_resolved_from_the_training_data_and_saved(marker_run):
    output_dir, console_text = marker_run.output_dir, marker_run.console
    assert "markers as single tokens: #Person1#, #Person2#" in console_text
    assert json.loads((output_dir / "run_config.json").read_text())["model"]["marker_tokens"] == MARKERS
    assert json.loads((output_dir / "adapter" / "s2sa.json").read_text())["model"]["marker_tokens"] == MARKERS
    assert json.loads((output_dir / "run.json").read_text())["parameters"]["groups"]["markers"]["trained"]


def test_training_moves_the_decoders_marker_rows_and_not_the_matrices(marker_run):
    """The encoder's rows stay at their start (encoder_marker_rows: frozen, the default), the decoder's train."""
    after, before = marker_run.summarizer.model.state_dict(), marker_run.before
    for stack, moves in (("encoder.embeddings", False), ("decoder.bert.embeddings", True)):
        rows = f"{stack}.word_embeddings.marker_rows"
        assert torch.equal(after[rows], before[rows]) != moves
        assert torch.equal(after[f"{stack}.word_embeddings.weight"], before[f"{stack}.word_embeddings.weight"])


def test_saved_run_reloads_with_its_markers_and_the_same_summaries(marker_run):
    output_dir, trained = marker_run.output_dir, marker_run.summarizer
    loaded, info = load_artifact(output_dir / "adapter")
    assert info.model_args.markers == ["#Person1#", "#Person2#"]
    for name in ("encoder.embeddings.word_embeddings.marker_rows", "decoder.bert.embeddings.word_embeddings.marker_rows"):
        assert torch.equal(loaded.model.state_dict()[name], trained.model.state_dict()[name])
    documents = ["#Person1#: Hi, a table for two tonight?\n#Person2#: Sure, at 7 pm."] * 2
    gen = GenerationArgs(num_beams=2, max_new_tokens=10, min_new_tokens=2, batch_size=2)
    assert generate_summaries(loaded.model, loaded.tokenizer, documents, gen, 64) == \
        generate_summaries(trained.model.eval(), trained.tokenizer, documents, gen, 64)


def test_exports_carry_the_markers(marker_run, tmp_path):
    output_dir = marker_run.output_dir
    exported = export_adapter(output_dir, tmp_path / "export")
    assert AutoTokenizer.from_pretrained(exported).tokenize("#Person2#: hi") == ["#Person2#", ":", "hi"]
    card = {}  # the model card's plain transformers + adapters code, up to its example documents
    exec(card_code_blocks(exported)[0].split("documents = ")[0], card)  # noqa: S102
    merged_dir = export_adapter(output_dir, tmp_path / "merged", merge=True)
    merged = EncoderDecoderModel.from_pretrained(merged_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(merged_dir)
    loaded, _ = load_artifact(output_dir / "adapter")
    ids = tokenizer(["#Person1#: hi #Person2#"], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        expected = loaded.model.eval()(input_ids=ids, decoder_input_ids=ids).logits
        torch.testing.assert_close(merged(input_ids=ids, decoder_input_ids=ids).logits, expected, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(card["model"](input_ids=ids, decoder_input_ids=ids).logits, expected, atol=1e-4, rtol=1e-4)


def test_a_resumed_run_ends_with_the_same_marker_rows(marker_run, tmp_path):
    output_dir = marker_run.output_dir
    resumed = tmp_path / "run"
    shutil.copytree(output_dir, resumed)
    shutil.rmtree(resumed / "checkpoints" / "checkpoint-6")
    shutil.rmtree(resumed / "adapter")
    (resumed / "run.json").unlink()  # not finished: a finished run is left as it is
    config = RunConfig.from_dict(json.loads((resumed / "run_config.json").read_text()))
    config.train.output_dir = str(resumed)
    train_tiny(config, resume=resumed)
    ours, theirs = load_file(str(resumed / "adapter" / NON_ADAPTER_WEIGHTS)), load_file(str(output_dir / "adapter" / NON_ADAPTER_WEIGHTS))
    rows = [key for key in theirs if key.endswith("marker_rows")]
    assert len(rows) == 2
    for key in rows:
        assert torch.equal(ours[key], theirs[key]), key
