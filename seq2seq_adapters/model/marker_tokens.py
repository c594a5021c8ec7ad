"""Speaker and placeholder tags (`#Person1#`) as single tokens, with embedding rows that train.

An uncased WordPiece tokenizer splits `#Person1#` into `#`, `person`, `##1`, `#`: DialogSum's dialogues
spend 14% of their tokens and its summaries 21% on such pieces, and the model must spell the tag out
piece by piece. As single tokens (matched before lowercasing, so they keep their case) they cost one
position each and are generated in one step (docs/studies/surface-text.md measures both ways).

The tokenizer gets the markers as added tokens; both embedding matrices grow by a row per marker
(`resize_token_embeddings`, so the model stays a plain transformers model), started at the mean of the
marker's word pieces. The grown matrices stay frozen: each stack's embedding module holds a small
`marker_rows` parameter (group `markers`, see trainable.py) that a forward hook puts in place of the
new rows, and the decoder's output projection (tied to its embeddings) computes the markers' logits
from the same parameter. So only markers x hidden weights train, and no gradient of the 30k-row
matrices is ever formed. The encoder's rows stay at their start unless `encoder_marker_rows: train`
(modeling.set_trainable): equal ROUGE, faster steps (docs/studies/surface-text.md). `bake_marker_rows` writes the
trained rows into the matrices and removes the hooks, for exports and int8 copies that must be plain
transformers modules.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from transformers import AddedToken, EncoderDecoderModel, PreTrainedTokenizerBase

from seq2seq_adapters.config.policy import MARKER_ROWS as ROWS
from seq2seq_adapters.config.value_rules import MARKER, MARKERS_MIN_COUNT

if TYPE_CHECKING:
    from datasets import Dataset

def discover_markers(texts: Iterable[str], min_count: int = MARKERS_MIN_COUNT) -> list[str]:
    """Markers seen at least `min_count` times in `texts`, most frequent first (ties by name)."""
    counts = collections.Counter(marker for text in texts for marker in MARKER.findall(text))
    return sorted((m for m, n in counts.items() if n >= min_count), key=lambda m: (-counts[m], m))


def training_markers(split: Dataset) -> list[str]:
    """`marker_tokens: auto` on a normalized training split: the markers of its documents and summaries."""
    columns = split.select_columns(["document", "references"]).to_dict()
    return discover_markers([*columns["document"], *(text for refs in columns["references"] for text in refs)])


def add_marker_tokens(tokenizer: PreTrainedTokenizerBase, markers: list[str]) -> None:
    """Make each marker one token of `tokenizer`, matched in the raw (not lowercased) text."""
    tokenizer.add_tokens([AddedToken(marker, normalized=False) for marker in markers])


def _splice_rows(module: torch.nn.Embedding, args: tuple, output: torch.Tensor) -> torch.Tensor:
    """Embedding forward hook: the trainable rows in place of the new tokens' (frozen) rows."""
    rows = getattr(module, ROWS)
    first = module.num_embeddings - rows.shape[0]
    ids = args[0]
    new = (ids >= first).unsqueeze(-1)
    return torch.where(new, rows[(ids - first).clamp(min=0)], output)


def _marker_logits(module: torch.nn.Linear, args: tuple, output: torch.Tensor) -> torch.Tensor:
    """Output-projection forward hook: the markers' logits from the trainable rows."""
    rows = getattr(module, ROWS)
    first = module.out_features - rows.shape[0]
    bias = None if module.bias is None else module.bias[first:]
    return torch.cat([output[..., :first], F.linear(args[0], rows, bias)], dim=-1)


HOOKS = (_splice_rows, _marker_logits)


def extend_model(model: EncoderDecoderModel, tokenizer: PreTrainedTokenizerBase, markers: list[str]) -> None:
    """Add `markers` to the tokenizer and model: grown matrices, piece-mean rows, trainable `marker_rows`."""
    new = [marker for marker in markers if marker not in tokenizer.get_vocab()]
    if not new:
        return
    pieces = {marker: tokenizer(marker, add_special_tokens=False)["input_ids"] for marker in new}
    first = len(tokenizer)
    add_marker_tokens(tokenizer, new)
    for stack in (model.encoder, model.decoder):
        stack.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        embedding = stack.get_input_embeddings()
        with torch.no_grad():
            for row, marker in enumerate(new, start=first):
                embedding.weight[row] = embedding.weight[pieces[marker]].mean(0)
        setattr(embedding, ROWS, torch.nn.Parameter(embedding.weight[first:].detach().clone()))
        embedding.register_forward_hook(_splice_rows)
    output = model.decoder.get_output_embeddings()
    if output.bias is not None:
        with torch.no_grad():
            for row, marker in enumerate(new, start=first):
                output.bias[row] = output.bias[pieces[marker]].mean()
    setattr(output, ROWS, getattr(model.decoder.get_input_embeddings(), ROWS))  # tied, as the matrices are
    output.register_forward_hook(_marker_logits)
    model.config.vocab_size = model.config.decoder.vocab_size = len(tokenizer)


def bake_marker_rows(model: torch.nn.Module) -> None:
    """Write trained marker rows into the embedding matrices and drop the hooks: a plain transformers model."""
    for module in model.modules():
        rows = module._parameters.pop(ROWS, None)
        if rows is None:
            continue
        if isinstance(module, torch.nn.Embedding):
            with torch.no_grad():
                module.weight[module.num_embeddings - rows.shape[0]:] = rows
        for key in [key for key, hook in module._forward_hooks.items() if hook in HOOKS]:
            del module._forward_hooks[key]
