"""Checkpoint folders that carry their own Python code (`auto_map`, `custom_generate/`): what counts as such code,
and its refusal without the caller's trust_remote_code, before anything loads (through the CLI's commands:
tests/integration/test_remote_code.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import FORMAT_1

from seq2seq_adapters.core.errors import S2SAError


@pytest.fixture
def hostile_run(hostile, tmp_path) -> Path:
    """A run folder whose s2sa.json names the hostile checkpoint and says `trust_remote_code: true`, as older s2sa
    saved it (no weights: the refusal comes before any is read)."""
    run = tmp_path / "run"
    (run / "adapter").mkdir(parents=True)
    saved = json.loads(FORMAT_1.read_text())
    saved["model"].update(encoder=str(hostile[0]), decoder=str(hostile[0]), trust_remote_code=True)
    (run / "adapter" / "s2sa.json").write_text(json.dumps(saved))
    (run / "run_config.json").write_text(json.dumps({"model": saved["model"]}))
    return run


def test_load_summarizer_refuses(hostile_run, hostile):
    from seq2seq_adapters import load_summarizer

    with pytest.raises(S2SAError, match="--trust-remote-code") as refused:
        load_summarizer(hostile_run)
    assert str(hostile[0]) in str(refused.value) and "\n" not in str(refused.value)
    assert not hostile[1].exists()


def test_the_loader_refuses_what_only_transformers_sees(hostile, monkeypatch):
    """A Hub id's files are not on disk to check before loading: the loaded config's auto_map, or
    transformers' own refusal of a model type only the checkpoint's code defines, is refused the same way."""
    from seq2seq_adapters.model import builder

    folder, marker = hostile
    monkeypatch.setattr(builder, "check_checkpoint_code", lambda names, trust_remote_code: None)
    config = json.loads((folder / "config.json").read_text())
    if "auto_map" not in config:
        config["auto_map"] = {"AutoConfig": "evil.EvilConfig"}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(S2SAError, match=r"auto_map in config\.json.*--trust-remote-code"):
        builder.load_base_config(str(folder))
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "evil-bert"}))
    with pytest.raises(S2SAError, match=r"needs trust_remote_code.*--trust-remote-code"):
        builder.load_base_config(str(folder))
    assert not marker.exists()


def test_what_counts_as_checkpoint_code(tmp_path):
    """auto_map in config.json or tokenizer_config.json (a merged model's encoder/decoder sections too), and
    custom_generate/generate.py; a merged export with any of them is refused by load_summarizer too."""
    from seq2seq_adapters import load_summarizer
    from seq2seq_adapters.model.remote_code import check_checkpoint_code, code_files

    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (plain / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "BertTokenizer"}))
    assert code_files(plain) == []
    check_checkpoint_code([plain, "minilm", "org/hub-id", None], trust_remote_code=False)

    tokenizer = shutil.copytree(plain, tmp_path / "tokenizer")
    (tokenizer / "tokenizer_config.json").write_text(json.dumps({"auto_map": {"AutoTokenizer": ["tok.Evil", None]}}))
    assert code_files(tokenizer) == ["auto_map in tokenizer_config.json"]

    merged = tmp_path / "merged"
    merged.mkdir()
    (merged / "config.json").write_text(json.dumps({"model_type": "encoder-decoder", "encoder": {"model_type": "bert", "auto_map": {"AutoModel": "evil.M"}}}))
    assert code_files(merged) == ["auto_map in config.json"]
    with pytest.raises(S2SAError, match=r"checkpoint .*merged ships its own Python code \(auto_map in config\.json\).*--trust-remote-code"):
        load_summarizer(merged)

    (merged / "config.json").write_text(json.dumps({"model_type": "encoder-decoder"}))
    (merged / "custom_generate").mkdir()
    (merged / "custom_generate" / "generate.py").write_text("raise SystemExit('ran')\n")
    assert code_files(merged) == ["custom_generate/generate.py"]
    with pytest.raises(S2SAError, match=r"custom_generate/generate\.py.*--trust-remote-code"):
        load_summarizer(merged)
    check_checkpoint_code([tokenizer, merged], trust_remote_code=True)  # the caller's permission
