"""Finding trained weights for `s2sa eval` and `summarize`: a run, one of its checkpoints or an exported adapter
folder, what each says about itself (name, where results go, the run's settings), its decoding settings with
flags on top, and the model loaded back."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
import torch

from seq2seq_adapters.config.schema import ModelArgs
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.generation.loading import generation_settings, load_source, locate, run_config
from seq2seq_adapters.model.artifact_io import ArtifactInfo, save_artifact
from seq2seq_adapters.model.builder import build_summarizer


@pytest.fixture(scope="module")
def saved(tiny_bert, tmp_path_factory):
    """A summarizer saved (no training) as a run's final adapter, as its checkpoint-2 and as an export."""
    root = tmp_path_factory.mktemp("sources")
    margs = ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), adapter_config="lora[r=4]", leave_out=[0])
    torch.manual_seed(3)
    summarizer = build_summarizer(margs)
    with torch.no_grad():  # stand-in for training: trained weights that a fresh build would not have
        for parameter in summarizer.model.parameters():
            if parameter.requires_grad:
                parameter.add_(0.05 * torch.randn_like(parameter))
    info = ArtifactInfo(model=dataclasses.asdict(margs), generation={"num_beams": 2, "max_new_tokens": 12},
                        new_weight_names=summarizer.new_weight_names, max_source_length=64)
    run = root / "run"
    save_artifact(run / "adapter", summarizer, info)
    (run / "run_config.json").write_text(json.dumps({"data": {"data": "dialogs.jsonl"}}))
    shutil.copytree(run / "adapter", run / "checkpoints" / "checkpoint-2" / "adapter")
    (run / "checkpoints" / "checkpoint-2" / "COMPLETE").write_text("ok\n")
    shutil.copytree(run / "adapter", root / "exported")
    return root, summarizer


def test_a_run_is_its_final_adapter_with_its_settings(saved):
    root, _ = saved
    source = locate(root / "run")
    assert (source.artifact_dir, source.run_dir, source.is_final) == ((root / "run" / "adapter").resolve(), (root / "run").resolve(), True)
    assert (source.name, source.home) == ("run", (root / "run").resolve())  # results go into the run folder
    assert source.info.generation.num_beams == 2 and source.info.max_source_length == 64
    assert run_config(source).data.data == "dialogs.jsonl"


def test_a_checkpoint_belongs_to_its_run_but_is_not_the_final_adapter(saved):
    """run.json's validation scores describe the final adapter, not this one: its results stay beside it."""
    root, _ = saved
    folder = root / "run" / "checkpoints" / "checkpoint-2" / "adapter"
    source = locate(folder)
    assert (source.run_dir, source.is_final, source.name) == ((root / "run").resolve(), False, "run")
    assert source.home == folder.resolve()
    assert run_config(source).data.data == "dialogs.jsonl"


def test_an_exported_adapter_has_no_run(saved):
    root, _ = saved
    source = locate(root / "exported")
    assert (source.run_dir, source.is_final, source.run) == (None, False, None)
    assert (source.name, source.home) == ("exported", (root / "exported").resolve())
    assert run_config(source) is None  # eval needs --data


def test_flags_replace_the_stored_decoding_settings_under_the_same_rules(saved):
    root, _ = saved
    stored = locate(root / "run").info.generation
    gen = generation_settings(stored, {"num_beams": 1, "max_new_tokens": None})  # None: the flag was not given
    assert (gen.num_beams, gen.max_new_tokens) == (1, 12)
    assert stored.num_beams == 2  # the stored settings are left as they were
    with pytest.raises(S2SAError, match="--min-new-tokens 20 is above --max-new-tokens 12"):
        generation_settings(stored, {"min_new_tokens": 20})
    with pytest.raises(S2SAError, match="not decoding settings: beams; they are num_beams, "):
        generation_settings(stored, {"beams": 1})


def test_a_source_that_is_not_one_is_named(saved, tmp_path):
    root, _ = saved
    with pytest.raises(S2SAError, match="is neither an s2sa run"):
        locate(tmp_path)
    (tmp_path / "adapter.safetensors").write_bytes(b"")
    shutil.copy(root / "exported" / "s2sa.json", tmp_path)
    with pytest.raises(S2SAError, match="adapter.safetensors is damaged or truncated"):
        locate(tmp_path)


def test_load_source_gives_back_the_saved_model(saved):
    root, summarizer = saved
    torch.manual_seed(4)  # other random values for whatever the folder must restore
    source, loaded = load_source(root / "exported")
    assert source.name == "exported"
    saved_weights, restored = dict(summarizer.model.named_parameters()), dict(loaded.model.named_parameters())
    assert saved_weights.keys() == restored.keys()
    assert all(torch.equal(tensor, restored[name]) for name, tensor in saved_weights.items())
