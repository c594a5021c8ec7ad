"""Fine-tune adapters on BERT2BERT encoder-decoder models for abstractive summarization.

The public Python API is this module's: `Summarizer` (load a run or an export, then `summarize` texts as
`s2sa summarize` does) and `load_summarizer` (the plain `(model, tokenizer)` pair for transformers' own
`generate`). Everything in the subpackages is internal."""

from seq2seq_adapters.generation.summarizer import Summarizer

__version__ = "0.1.0"


def load_summarizer(directory, encoder=None, decoder=None, *, trust_remote_code=False):
    """Load a run folder, an exported adapter folder or a merged export; returns (model, tokenizer) ready for
    `model.generate(**tokenizer(texts, return_tensors="pt", padding=True))`: on the CPU, as `from_pretrained`
    gives a model; special tokens and the run's decoding settings on `model.generation_config`; no
    `token_type_ids` from the tokenizer.

    `generate` returns WordPiece ids; `Summarizer.load(directory).summarize(texts)` gives the readable summaries
    of `s2sa summarize` (markers as written, words closed up) with s2sa's faster generator. `encoder`/`decoder`
    replace the base checkpoints recorded in the folder (not for merged exports). A folder whose decoding
    settings say `quantize: int8` (export-adapter --quantize int8) gives the int8 CPU model. A checkpoint that
    carries its own Python code (`auto_map`, `custom_generate/`) is refused unless you pass
    `trust_remote_code=True`; what the folder's files say never allows it."""
    summarizer = Summarizer.load(directory, encoder=encoder, decoder=decoder, trust_remote_code=trust_remote_code, device="cpu")
    if summarizer.generation.quantize == "int8":
        from seq2seq_adapters.model.int8 import int8_copy

        return int8_copy(summarizer.model), summarizer.tokenizer
    return summarizer.model, summarizer.tokenizer


__all__ = ["Summarizer", "__version__", "load_summarizer"]
