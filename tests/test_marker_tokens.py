"""Markers (#Person1#) as single tokens: settings, the grown model, what trains, save/load, exports."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import assert_one_line_error, run_cli
from rich.console import Console
from safetensors.torch import load_file
from test_export import card_code_blocks
from test_train import Captured, isolated_caches, tiny_config, train_capturing  # noqa: F401 (isolated_caches: autouse)
from transformers import AutoTokenizer, EncoderDecoderModel

from seq2seq_adapters.config.fields import flag_name
from seq2seq_adapters.config.loading import load_config, parse_overrides
from seq2seq_adapters.config.schema import GenerationArgs, ModelArgs, RunConfig
from seq2seq_adapters.config.value_rules import MARKERS_MIN_COUNT, parse_marker_tokens
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.evaluation.reports import parameter_summary, trains
from seq2seq_adapters.export.writer import export_adapter
from seq2seq_adapters.generation.decoding import generate_summaries
from seq2seq_adapters.layout.artifact_folder import NON_ADAPTER_WEIGHTS
from seq2seq_adapters.model.artifact_io import load_artifact
from seq2seq_adapters.model.builder import build_summarizer, parameter_groups
from seq2seq_adapters.model.int8 import int8_copy
from seq2seq_adapters.model.marker_tokens import bake_marker_rows, discover_markers
from seq2seq_adapters.training import recipe as training

MARKERS = "#Person1#,#Person2#"


def test_setting_accepts_auto_none_or_a_list_of_markers():
    assert parse_marker_tokens("auto") == "auto"
    assert parse_marker_tokens(" ") == parse_marker_tokens("none") == "none"
    assert ModelArgs().markers == []
    assert parse_marker_tokens("#Person1#, #Person2#,#Person1#") == MARKERS
    with pytest.raises(S2SAError, match=r"'Person1' is not a marker like #Person1#"):
        parse_marker_tokens("Person1")
    assert ModelArgs(marker_tokens=MARKERS).markers == ["#Person1#", "#Person2#"]
    with pytest.raises(S2SAError, match="resolved from training data"):
        ModelArgs(marker_tokens="auto").markers  # noqa: B018
    assert any("--tie-encoder-decoder" in p for p in ModelArgs(marker_tokens="auto", tie_encoder_decoder=True).problems(flag_name))


def test_auto_takes_markers_seen_often_enough_most_frequent_first():
    texts = ["#Person2#: hi #Person1#", "#Person2#: yes #Person2#", "#Person1# #Person2#", "#Person1# #PErson2#", "#Person3#"]
    assert discover_markers(texts) == ["#Person2#", "#Person1#"]
    assert MARKERS_MIN_COUNT == 3
    assert discover_markers(texts, min_count=1) == ["#Person2#", "#Person1#", "#PErson2#", "#Person3#"]


@pytest.fixture(scope="module")
def marked(tiny_bert):
    return build_summarizer(ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), adapter_config="seq_bn", marker_tokens=MARKERS))


def test_markers_are_single_tokens_with_rows_started_at_their_pieces_mean(marked, tiny_bert):
    tokenizer, model = marked.tokenizer, marked.model
    plain = AutoTokenizer.from_pretrained(tiny_bert)
    ids = tokenizer("#Person1#: hi, #Person2#!", add_special_tokens=False)["input_ids"]
    assert ids[0] == len(plain) and ids[4] == len(plain) + 1
    assert tokenizer.decode(ids) == "#Person1# : hi, #Person2#!"
    pieces = plain("#Person1#", add_special_tokens=False)["input_ids"]
    for stack in (model.encoder, model.decoder):
        embedding = stack.get_input_embeddings()
        assert embedding.num_embeddings == len(plain) + 2
        torch.testing.assert_close(embedding.marker_rows[0], embedding.weight[pieces].mean(0))
    assert model.decoder.get_output_embeddings().marker_rows is model.decoder.get_input_embeddings().marker_rows
    assert model.config.decoder.vocab_size == len(tokenizer)
    # the decoder's rows train, the encoder's stay at their start (encoder_marker_rows: frozen, the default)
    assert parameter_groups(marked)["markers"] == {"count": 2 * 2 * 32, "trained": True, "trained_count": 2 * 32}
    summary = parameter_summary(parameter_groups(marked))
    assert trains(summary["groups"]["markers"]) == "64 of them"  # the console's and model card's cell
    assert summary["trained"] == sum(p.numel() for p in marked.model.parameters() if p.requires_grad)
    assert trains({"count": 128, "trained": True}) == "yes"  # run.json of a run before trained_count


@pytest.fixture(scope="module")
def marked_both(tiny_bert):
    """Markers whose encoder rows train too (`encoder_marker_rows: train`)."""
    return build_summarizer(
        ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), adapter_config="seq_bn", marker_tokens=MARKERS, encoder_marker_rows="train")
    )


@pytest.mark.parametrize("encoder_rows", ["frozen", "train"])
def test_only_the_marker_rows_of_the_embeddings_get_gradients(marked, marked_both, encoder_rows):
    """The decoder's marker rows get gradients; the encoder's only with encoder_marker_rows: train. Frozen,
    nothing below the first adapter needs a gradient, so backward skips the encoder's lowest layers."""
    summarizer = marked_both if encoder_rows == "train" else marked
    model = summarizer.model.train()
    ids = summarizer.tokenizer(["#Person1#: hi #Person2#"], return_tensors="pt")["input_ids"]
    output = model(input_ids=ids, labels=ids)
    output.loss.backward()
    assert output.logits.shape[-1] == len(summarizer.tokenizer)
    for stack in (model.encoder, model.decoder):
        embedding = stack.get_input_embeddings()
        assert not embedding.weight.requires_grad
        if stack is model.encoder and encoder_rows == "frozen":
            assert not embedding.marker_rows.requires_grad and embedding.marker_rows.grad is None
        else:
            assert embedding.marker_rows.grad is not None and embedding.marker_rows.grad.abs().sum() > 0
    model.zero_grad()
    # the rows in the (frozen) matrices are not what the model reads: moving the trainable rows moves the logits
    with torch.no_grad():
        before = model(input_ids=ids, labels=ids).logits
        model.encoder.get_input_embeddings().marker_rows.add_(1.0)
        after = model(input_ids=ids, labels=ids).logits
        model.encoder.get_input_embeddings().marker_rows.sub_(1.0)
    assert not torch.allclose(before, after)


def test_baking_gives_a_plain_model_with_the_same_logits(marked, tiny_bert):
    model = marked.model.eval()
    ids = marked.tokenizer(["#Person1#: hi #Person2#"], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        model.decoder.get_input_embeddings().marker_rows.normal_()
        model.encoder.get_input_embeddings().marker_rows.normal_()
        expected = model(input_ids=ids, decoder_input_ids=ids).logits
        baked = build_summarizer(ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), adapter_config="seq_bn", marker_tokens=MARKERS))
        baked.model.load_state_dict(model.state_dict())
        bake_marker_rows(baked.model)
        assert not any("marker_rows" in name for name, _ in baked.model.named_parameters())
        assert not any(module._forward_hooks for module in (baked.model.encoder.get_input_embeddings(), baked.model.decoder.get_output_embeddings()))
        torch.testing.assert_close(baked.model.eval()(input_ids=ids, decoder_input_ids=ids).logits, expected)
        quantised = int8_copy(model)(input_ids=ids, decoder_input_ids=ids).logits
    assert quantised.shape == expected.shape
    assert (quantised - expected).abs().max() < 0.05 * expected.abs().max()
    assert hasattr(model.encoder.get_input_embeddings(), "marker_rows")  # int8_copy left the model as it was


@pytest.fixture(scope="module")
def marker_run(tiny_bert, dialog_jsonl, tmp_path_factory) -> tuple[Path, Captured, str]:
    """6 LoRA steps with `marker_tokens: auto` on the 64 tiny dialogues (#Person1# and #Person2# 128 times each)."""
    output_dir = tmp_path_factory.mktemp("markers") / "run"
    config = tiny_config(tiny_bert, dialog_jsonl, output_dir, adapter_config="lora[r=4,alpha=8]", leave_out=[], marker_tokens="auto")
    _, captured, console_text = train_capturing(config)
    return output_dir, captured, console_text


def test_auto_is_resolved_from_the_training_data_and_saved(marker_run):
    output_dir, _, console_text = marker_run
    assert "markers as single tokens: #Person1#, #Person2#" in console_text
    assert json.loads((output_dir / "run_config.json").read_text())["model"]["marker_tokens"] == MARKERS
    assert json.loads((output_dir / "adapter" / "s2sa.json").read_text())["model"]["marker_tokens"] == MARKERS
    assert json.loads((output_dir / "run.json").read_text())["parameters"]["groups"]["markers"]["trained"]


def test_training_moves_the_decoders_marker_rows_and_not_the_matrices(marker_run):
    """The encoder's rows stay at their start (encoder_marker_rows: frozen, the default), the decoder's train."""
    _, captured, _ = marker_run
    after, before = captured.summarizer.model.state_dict(), captured.before
    for stack, moves in (("encoder.embeddings", False), ("decoder.bert.embeddings", True)):
        rows = f"{stack}.word_embeddings.marker_rows"
        assert torch.equal(after[rows], before[rows]) != moves
        assert torch.equal(after[f"{stack}.word_embeddings.weight"], before[f"{stack}.word_embeddings.weight"])


def test_saved_run_reloads_with_its_markers_and_the_same_summaries(marker_run):
    output_dir, captured, _ = marker_run
    trained = captured.summarizer
    loaded, info = load_artifact(output_dir / "adapter")
    assert info.model_args.markers == ["#Person1#", "#Person2#"]
    for name in ("encoder.embeddings.word_embeddings.marker_rows", "decoder.bert.embeddings.word_embeddings.marker_rows"):
        assert torch.equal(loaded.model.state_dict()[name], trained.model.state_dict()[name])
    documents = ["#Person1#: Hi, a table for two tonight?\n#Person2#: Sure, at 7 pm."] * 2
    gen = GenerationArgs(num_beams=2, max_new_tokens=10, min_new_tokens=2, batch_size=2)
    assert generate_summaries(loaded.model, loaded.tokenizer, documents, gen, 64) == \
        generate_summaries(trained.model.eval(), trained.tokenizer, documents, gen, 64)


def test_exports_carry_the_markers(marker_run, tmp_path):
    output_dir, _, _ = marker_run
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


@pytest.mark.parametrize("args", [["--marker-tokens", "Person1"], ["model.marker_tokens=#Person1#,Person2"]])
def test_a_wrong_marker_is_a_one_line_error_before_anything_is_written(args, tiny_bert, dialog_jsonl, tmp_path):
    output = tmp_path / "never"
    process = run_cli(["train", "--encoder", str(tiny_bert), "--data", str(dialog_jsonl), "--output-dir", str(output), *args], cwd=tmp_path)
    assert_one_line_error(process, "is not a marker like #Person1#")
    assert not output.exists()


def test_the_dialogsum_config_asks_for_auto_and_none_turns_it_off():
    assert load_config("dialogsum").model.marker_tokens == "auto"
    assert load_config("dialogsum", {"model": {"marker_tokens": parse_marker_tokens("none")}}).model.markers == []
    assert load_config("dialogsum", settings=parse_overrides(["model.marker_tokens="])).model.markers == []


def test_a_resumed_run_ends_with_the_same_marker_rows(marker_run, tmp_path):
    output_dir, _, _ = marker_run
    resumed = tmp_path / "run"
    shutil.copytree(output_dir, resumed)
    shutil.rmtree(resumed / "checkpoints" / "checkpoint-6")
    shutil.rmtree(resumed / "adapter")
    (resumed / "run.json").unlink()  # not finished: a finished run is left as it is
    config = RunConfig.from_dict(json.loads((resumed / "run_config.json").read_text()))
    config.train.output_dir = str(resumed)
    training.train(config, resume=resumed, console=Console(file=io.StringIO()))
    ours, theirs = load_file(str(resumed / "adapter" / NON_ADAPTER_WEIGHTS)), load_file(str(output_dir / "adapter" / NON_ADAPTER_WEIGHTS))
    rows = [key for key in theirs if key.endswith("marker_rows")]
    assert len(rows) == 2
    for key in rows:
        assert torch.equal(ours[key], theirs[key]), key


def test_an_unquoted_marker_in_a_yaml_file_is_named_as_a_yaml_comment(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("model:\n  marker_tokens: #Person1#\n")
    with pytest.raises(S2SAError, match=r"model.marker_tokens must be str, got nothing \(.*YAML reads as a comment: quote it\)"):
        load_config(config)
