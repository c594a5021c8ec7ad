"""`Summarizer`: the public Python API. Load a run, a checkpoint, an exported adapter or a merged export, then
summarise texts exactly as `s2sa summarize` does (its fast generator and readable surface text), or call
transformers' own `model.generate(**tokenizer(texts, return_tensors="pt"))` on the same model.

`s2sa summarize` itself goes through this class, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seq2seq_adapters.config.schema import GenerationArgs
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import read_json
from seq2seq_adapters.generation.loading import (
    check_base_code,
    generation_settings,
    inference_device,
    load_model,
    locate,
    reading,
)
from seq2seq_adapters.generation.long_documents import check_long_documents, chunked_summaries
from seq2seq_adapters.layout.artifact_folder import is_merged_model
from seq2seq_adapters.model.remote_code import check_checkpoint_code

if TYPE_CHECKING:
    from transformers import EncoderDecoderModel, PreTrainedTokenizerBase

GENERATION_CONFIG = "generation_config.json"
"""transformers' file of decoding settings, which a merged export carries instead of s2sa.json."""

MODEL_INPUTS = ["input_ids", "attention_mask"]
"""What the tokenizer returns: BERT tokenizers add `token_type_ids`, which `EncoderDecoderModel.generate`
rejects ("The following `model_kwargs` are not used by the model")."""


@dataclass
class Summarizer:
    """A trained BERT2BERT summarizer with its tokenizer and decoding settings.

    >>> summarizer = Summarizer.load("runs/dialogsum-300")
    >>> summarizer.summarize(["#Person1#: Hi! ...", "..."])
    """

    model: EncoderDecoderModel
    tokenizer: PreTrainedTokenizerBase
    generation: GenerationArgs
    """The decoding settings `summarize` uses: the folder's own, with `load`'s overrides."""
    max_source_length: int
    """Source tokens the model was trained on; longer documents are cut, or windowed (`long_documents`)."""

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        encoder: str | None = None,
        decoder: str | None = None,
        trust_remote_code: bool = False,
        device: str | None = None,
        **generation: Any,
    ) -> Summarizer:
        """Load a run folder (its final adapter), a checkpoint, an exported adapter or a merged export.

        `encoder`/`decoder` replace the base checkpoints recorded in the folder (not for merged exports);
        `generation` keywords (`num_beams=1`, `max_new_tokens=40`, `quantize="int8"`, ...) replace its decoding
        settings. A base checkpoint that carries its own Python code is refused unless `trust_remote_code`.
        `device`: where the model runs (default: the GPU when there is one). Every check that needs no model
        comes before torch loads."""
        if is_merged_model(directory):
            if encoder or decoder:
                raise S2SAError(f"{directory} is a merged export: its base weights are inside it; drop encoder/decoder")
            check_checkpoint_code([directory], trust_remote_code)
            settings = generation_settings(merged_generation_settings(read_json(Path(directory) / GENERATION_CONFIG) or {}), generation)
            from seq2seq_adapters.model.artifact_io import load_merged_model  # torch: after the cheap checks

            built = load_merged_model(directory, trust_remote_code=trust_remote_code)
            built.model.to(device or inference_device())
            limit = min(built.tokenizer.model_max_length, built.model.config.encoder.max_position_embeddings)
        else:
            source = locate(directory)
            check_base_code(source, encoder, decoder, trust_remote_code=trust_remote_code)
            settings = generation_settings(source.info.generation, generation)
            with reading(source):
                built = load_model(source, encoder, decoder, trust_remote_code=trust_remote_code, device=device)
            limit = source.info.max_source_length
        from seq2seq_adapters.model.artifact_io import generation_config

        built.tokenizer.model_input_names = list(MODEL_INPUTS)
        built.model.generation_config = generation_config(built.tokenizer, settings)
        return cls(built.model, built.tokenizer, settings, limit)

    def summarize(
        self,
        texts: str | Sequence[str],
        *,
        long_documents: str = "truncate",
        on_batch: Callable[[int], None] | None = None,
    ) -> list[str]:
        """Summaries of `texts` in their order, readable as `s2sa summarize` writes them.

        `long_documents="chunk"` summarises a document over the source limit in overlapping windows and then
        the joined window summaries, instead of cutting it. `on_batch(n)` reports progress."""
        from seq2seq_adapters.generation.decoding import generate_summaries  # torch: only once asked to generate

        check_long_documents(long_documents)
        documents = [texts] if isinstance(texts, str) else list(texts)
        run = chunked_summaries if long_documents == "chunk" else generate_summaries
        return run(self.model, self.tokenizer, documents, self.generation, self.max_source_length, on_batch=on_batch)


def merged_generation_settings(stored: dict[str, Any]) -> GenerationArgs:
    """The decoding settings a merged export keeps in its generation_config.json (what
    GenerationArgs.generate_kwargs wrote), read back; what it does not state keeps GenerationArgs' default."""
    names = {f.name for f in fields(GenerationArgs)}
    return GenerationArgs(**{name: value for name, value in stored.items() if name in names and value is not None})
