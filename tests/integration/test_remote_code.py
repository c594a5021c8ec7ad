"""A checkpoint folder's own Python code runs only when the command line says --trust-remote-code.

A hostile base checkpoint is a tiny BERT whose folder carries code that writes a marker file when imported:
`auto_map` in config.json (transformers runs it with trust_remote_code=True), or `custom_generate/generate.py`
(transformers 4.57 imports it from any local folder, whatever trust_remote_code says). A run trained on a
clean checkpoint is pointed at it, its s2sa.json and run_config.json saying `"trust_remote_code": true` as
older s2sa saved them: every command refuses in one line naming the flag, writes nothing, and the marker
never appears. With the flag, the code runs (so the hostile folder is hostile indeed).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import assert_one_line_error, cli_env, run_cli, snapshot
from tiny import train_tiny_run

from seq2seq_adapters.core.errors import S2SAError

pytestmark = pytest.mark.integration

KINDS = ["auto_map", "custom_generate"]

EVIL_MODULE = """from pathlib import Path

Path({marker!r}).write_text("imported")

from transformers import BertConfig, BertLMHeadModel, BertModel

EvilConfig, EvilModel, EvilLM = BertConfig, BertModel, BertLMHeadModel  # the code ran; the model is plain BERT
"""

EVIL_GENERATE = """from pathlib import Path

Path({marker!r}).write_text("imported")


def generate(model, *args, **kwargs):
    raise RuntimeError("never called by s2sa")
"""


def make_hostile(clean: Path, folder: Path, kind: str, marker: Path) -> Path:
    """A copy of the clean tiny checkpoint whose own code (of `kind`) writes `marker` when imported."""
    shutil.copytree(clean, folder)
    if kind == "auto_map":
        (folder / "evil.py").write_text(EVIL_MODULE.format(marker=str(marker)))
        config = json.loads((folder / "config.json").read_text())
        config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel", "AutoModelForCausalLM": "evil.EvilLM"}
        (folder / "config.json").write_text(json.dumps(config, indent=2))
    else:
        (folder / "custom_generate").mkdir()
        (folder / "custom_generate" / "generate.py").write_text(EVIL_GENERATE.format(marker=str(marker)))
    return folder


def point_at(run: Path, base: Path) -> Path:
    """Make every s2sa.json and the run_config.json of `run` name `base` and say trust_remote_code: true."""
    for path in [*run.rglob("s2sa.json"), run / "run_config.json"]:
        raw = json.loads(path.read_text())
        raw["model"].update(encoder=str(base), decoder=str(base), trust_remote_code=True)
        path.write_text(json.dumps(raw, indent=2))
    return run


@pytest.fixture(scope="module")
def clean_run(tiny_bert, dialog_jsonl, tmp_path_factory) -> Path:
    return train_tiny_run(tiny_bert, dialog_jsonl, tmp_path_factory.mktemp("remote-code") / "run", save_steps=1)


@pytest.fixture(params=KINDS)
def hostile(request, tiny_bert, tmp_path) -> tuple[Path, Path]:
    """(hostile checkpoint folder, the marker its code would write)."""
    marker = tmp_path / f"marker-{request.param}"
    return make_hostile(tiny_bert, tmp_path / f"hostile-{request.param}", request.param, marker), marker


@pytest.fixture
def hostile_run(clean_run, hostile, tmp_path) -> Path:
    """A copy of the clean run pointed at the hostile checkpoint, as an older s2sa saved it, not finished."""
    run = point_at(shutil.copytree(clean_run, tmp_path / "run"), hostile[0])
    (run / "run.json").unlink()  # so that --resume has work to do
    return run


def env(tmp_path: Path) -> dict[str, str]:
    """The CLI's environment, with transformers' copies of checkpoint code kept inside tmp_path."""
    return cli_env(HF_MODULES_CACHE=str(tmp_path / "hf-modules"))


def assert_refused(result, hostile: tuple[Path, Path]) -> None:
    assert_one_line_error(result, str(hostile[0]), "--trust-remote-code")
    assert not hostile[1].exists(), "the checkpoint's own code ran"


def test_eval_refuses(hostile_run, hostile, tmp_path):
    out = tmp_path / "eval-out"
    result = run_cli(["eval", str(hostile_run), "--split", "validation", "--output-dir", str(out)], env=env(tmp_path))
    assert_refused(result, hostile)
    assert not out.exists()


def test_summarize_refuses(hostile_run, hostile, tmp_path):
    document = tmp_path / "doc.txt"
    document.write_text("#Person1#: Hi, a table for two tonight? #Person2#: Sure, at seven.")
    out = tmp_path / "summaries.jsonl"
    result = run_cli(["summarize", str(hostile_run), str(document), "--output", str(out)], env=env(tmp_path))
    assert_refused(result, hostile)
    assert not out.exists()


@pytest.mark.parametrize("merge", [False, True], ids=["adapter", "merge"])
def test_export_refuses_and_writes_nothing(hostile_run, hostile, tmp_path, merge):
    out = tmp_path / "exports" / "export"
    result = run_cli(["export-adapter", str(hostile_run), "--output", str(out), *(["--merge"] if merge else [])], env=env(tmp_path))
    assert_refused(result, hostile)
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_resume_refuses_and_changes_nothing(hostile_run, hostile, tmp_path):
    before = snapshot(hostile_run)
    result = run_cli(["train", "--resume", str(hostile_run)], env=env(tmp_path))
    assert_refused(result, hostile)
    assert snapshot(hostile_run) == before


def test_a_new_run_on_the_checkpoint_refuses(hostile, dialog_jsonl, tmp_path):
    out = tmp_path / "new-run"
    base = str(hostile[0])
    result = run_cli(["train", "--encoder", base, "--decoder", base, "--data", str(dialog_jsonl), "--max-steps", "1", "--output-dir", str(out)], env=env(tmp_path))
    assert_refused(result, hostile)
    assert not out.exists()


def test_load_summarizer_refuses(hostile_run, hostile):
    from seq2seq_adapters import load_summarizer

    with pytest.raises(S2SAError, match="--trust-remote-code") as refused:
        load_summarizer(hostile_run)
    assert str(hostile[0]) in str(refused.value) and "\n" not in str(refused.value)
    assert not hostile[1].exists()


@pytest.mark.parametrize("form", ["yaml", "dotted"])
def test_a_config_file_cannot_allow_code(form, hostile, dialog_jsonl, tmp_path):
    """`model.trust_remote_code` is not a setting: a YAML file or section.key=value stating it is refused."""
    out = tmp_path / "run"
    base = str(hostile[0])
    if form == "yaml":
        config = tmp_path / "config.yaml"
        config.write_text(f"model:\n  encoder: {base}\n  decoder: {base}\n  trust_remote_code: true\ndata:\n  data: {dialog_jsonl}\n")
        args = ["--config", str(config)]
    else:
        args = ["--encoder", base, "--decoder", base, "--data", str(dialog_jsonl), "model.trust_remote_code=true"]
    result = run_cli(["train", *args, "--output-dir", str(out)], env=env(tmp_path))
    assert_one_line_error(result, "model.trust_remote_code is not a setting", "--trust-remote-code")
    assert not hostile[1].exists() and not out.exists()


def test_the_flag_lets_the_code_run(hostile_run, hostile, tmp_path):
    """The fixture is hostile indeed: with the flag, transformers imports its code (and the run still summarises)."""
    document = tmp_path / "doc.txt"
    document.write_text("#Person1#: Hi, a table for two tonight? #Person2#: Sure, at seven.")
    result = run_cli(["summarize", str(hostile_run), str(document), "--trust-remote-code"], env=env(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert hostile[1].read_text() == "imported"


def test_an_old_run_that_says_trust_remote_code_still_loads_and_exports_without_it(clean_run, tiny_bert, tmp_path):
    from seq2seq_adapters import load_summarizer

    run = point_at(shutil.copytree(clean_run, tmp_path / "old-run"), tiny_bert)  # a clean base, an old file
    model, _ = load_summarizer(run)
    assert model is not None
    out = tmp_path / "export"
    result = run_cli(["export-adapter", str(run), "--output", str(out)], env=env(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "warning" not in result.stderr  # the retired key is dropped quietly
    assert "trust_remote_code" not in (out / "s2sa.json").read_text()
    model, _ = load_summarizer(out)
    assert model is not None


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
