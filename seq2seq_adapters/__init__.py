"""Fine-tune adapters on BERT2BERT encoder-decoder models for abstractive summarization."""

__version__ = "0.1.0"


def load_summarizer(directory, encoder=None, decoder=None):
    """Load a run's or an exported adapter folder; returns (model, tokenizer) ready to `generate`."""
    from .artifacts import load_artifact, resolve_artifact_dir

    summarizer, _ = load_artifact(resolve_artifact_dir(directory), encoder=encoder, decoder=decoder)
    return summarizer.model, summarizer.tokenizer


__all__ = ["__version__", "load_summarizer"]
