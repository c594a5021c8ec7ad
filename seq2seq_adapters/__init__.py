"""Fine-tune adapters on BERT2BERT encoder-decoder models for abstractive summarization."""

__version__ = "0.1.0"


def load_summarizer(directory, encoder=None, decoder=None, *, trust_remote_code=False):
    """Load a run folder, an exported adapter folder or a merged export; returns (model, tokenizer) ready to
    `generate` (special tokens and the run's decoding settings on `model.generation_config`).

    `encoder`/`decoder` replace the base checkpoints recorded in the folder (not for merged exports). A folder
    whose decoding settings say `quantize: int8` (export-adapter --quantize int8) gives the int8 CPU model.
    A checkpoint that carries its own Python code (`auto_map`, `custom_generate/`) is refused unless you pass
    `trust_remote_code=True`; what the folder's files say never allows it."""
    from seq2seq_adapters.layout.artifact_folder import resolve_artifact_dir
    from seq2seq_adapters.model.artifact_io import generation_config, is_merged_model, load_artifact, load_merged_model

    if is_merged_model(directory):
        summarizer = load_merged_model(directory, trust_remote_code=trust_remote_code)
    else:
        summarizer, info = load_artifact(
            resolve_artifact_dir(directory), encoder=encoder, decoder=decoder, trust_remote_code=trust_remote_code
        )
        summarizer.model.generation_config = generation_config(summarizer.tokenizer, info.generation_args)
        if info.generation_args.quantize == "int8":
            from seq2seq_adapters.model.int8 import int8_copy

            return int8_copy(summarizer.model), summarizer.tokenizer
    return summarizer.model, summarizer.tokenizer


__all__ = ["__version__", "load_summarizer"]
