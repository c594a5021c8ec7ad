"""ROUGE during training: a fixed subset of the validation split, decoded with the run's settings (greedy when
asked), scored as headline F1 x100 at every evaluation (generation stood in for)."""

from __future__ import annotations

from types import SimpleNamespace

import datasets
from tiny import PREDICTIONS, REFERENCES

from seq2seq_adapters.config.schema import GenerationArgs, TrainArgs
from seq2seq_adapters.evaluation.rouge import compute_rouge
from seq2seq_adapters.evaluation.split_scoring import headline
from seq2seq_adapters.training import validation_rouge
from seq2seq_adapters.training.validation_rouge import ValidationRouge

VALIDATION = datasets.Dataset.from_dict(
    {"id": [str(i) for i in range(6)], "document": [f"document {i}" for i in range(6)], "references": [[r] for r in REFERENCES]}
)
BEAMS = GenerationArgs(num_beams=4, max_new_tokens=20)


def test_the_subset_is_the_first_examples_and_greedy_on_request():
    scorer = ValidationRouge.from_settings(VALIDATION, TrainArgs(eval_rouge_samples=4), BEAMS, 64)
    assert scorer.documents == [f"document {i}" for i in range(4)] and scorer.references == [[r] for r in REFERENCES[:4]]
    assert scorer.generation == BEAMS and scorer.max_source_length == 64
    greedy = ValidationRouge.from_settings(VALIDATION, TrainArgs(eval_rouge_samples=50, eval_greedy=True), BEAMS, 64)
    assert len(greedy.documents) == 6  # no more than the split holds
    assert greedy.generation.num_beams == 1 and greedy.generation.max_new_tokens == 20 and BEAMS.num_beams == 4


def test_no_subset_with_eval_rouge_samples_0():
    assert ValidationRouge.from_settings(VALIDATION, TrainArgs(eval_rouge_samples=0), BEAMS, 64) is None


def test_each_evaluation_scores_the_models_summaries_of_the_subset(monkeypatch):
    seen = []

    def generate(model, tokenizer, documents, gen, max_source_length):
        seen.append((model, documents, gen, max_source_length))
        return [PREDICTIONS[int(document.split()[1])] for document in documents]

    monkeypatch.setattr(validation_rouge, "generate_summaries", generate)
    scorer = ValidationRouge.from_settings(VALIDATION, TrainArgs(eval_rouge_samples=5), BEAMS, 64)
    scores = scorer(SimpleNamespace(model="the model", tokenizer=None))
    assert seen == [("the model", [f"document {i}" for i in range(5)], BEAMS, 64)]
    assert scores == headline(compute_rouge(PREDICTIONS[:5], [[r] for r in REFERENCES[:5]], n_bootstrap=1))
    assert set(scores) == {"rouge1", "rouge2", "rougeL", "rougeLsum"}
