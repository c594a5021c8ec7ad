"""ROUGE during training: summarise a fixed validation subset with the fast generator at every evaluation,
so the best checkpoint is the best summarizer (not the lowest loss)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from datasets import Dataset

from seq2seq_adapters.config.schema import GenerationArgs, TrainArgs
from seq2seq_adapters.core.distributed import shard, unshard
from seq2seq_adapters.evaluation.rouge import compute_rouge
from seq2seq_adapters.evaluation.split_scoring import headline
from seq2seq_adapters.generation.decoding import generate_summaries
from seq2seq_adapters.model.builder import BuiltModel


@dataclass
class ValidationRouge:
    """The first `eval_rouge_samples` validation examples and the decoding settings to score them with."""

    documents: list[str]
    references: list[list[str]]
    generation: GenerationArgs
    max_source_length: int

    @classmethod
    def from_settings(cls, validation: Dataset, train: TrainArgs, generation: GenerationArgs, max_source_length: int) -> ValidationRouge | None:
        """The subset `train` asks for (None with `eval_rouge_samples: 0`); greedy when `eval_greedy`."""
        if train.eval_rouge_samples == 0:
            return None
        subset = validation.select(range(min(train.eval_rouge_samples, len(validation))))
        decoding = dataclasses.replace(generation, num_beams=1) if train.eval_greedy else generation
        return cls(list(subset["document"]), list(subset["references"]), decoding, max_source_length)

    def __call__(self, summarizer: BuiltModel) -> dict[str, float]:
        """Headline ROUGE F1 x100 (rouge1, rouge2, rougeL, rougeLsum); every rank generates its share and scores all."""
        local = generate_summaries(summarizer.model, summarizer.tokenizer, shard(self.documents), self.generation, self.max_source_length)
        predictions = unshard(local, len(self.documents))
        return headline(compute_rouge(predictions, self.references, n_bootstrap=1))
