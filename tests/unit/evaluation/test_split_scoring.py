"""One split scored: summaries generated in input order, scored against their references and Lead-k, written as
predictions, a report and a table (generation stood in for: what is scored and written is the subject)."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import datasets
import pytest
from rich.console import Console
from tiny import ALT_REFERENCES, PREDICTIONS, REFERENCES

from seq2seq_adapters.config.schema import GenerationArgs
from seq2seq_adapters.evaluation import split_scoring
from seq2seq_adapters.evaluation.rouge import choose_lead_k, compute_rouge
from seq2seq_adapters.generation.surface_text import UNCASED_NOTE


@pytest.fixture
def scored(tokenizer, tmp_path, monkeypatch):
    """evaluate_split on six news examples whose model 'summary' is a fixed prediction per document."""
    documents = [f"{prediction} {reference}" for prediction, reference in zip(PREDICTIONS, ALT_REFERENCES)]
    answers = dict(zip(documents, PREDICTIONS))
    calls = []

    def generate(model, tokenizer, texts, gen, max_source_length, on_batch=None):
        calls.append((list(texts), gen, max_source_length))
        on_batch(len(texts))
        return [answers[text] for text in texts]

    monkeypatch.setattr(split_scoring, "generate_summaries", generate)
    split = datasets.Dataset.from_dict({"id": [f"n{i}" for i in range(6)], "document": documents, "references": [[r] for r in REFERENCES]})
    gen = GenerationArgs(num_beams=1, max_new_tokens=20)
    console = io.StringIO()
    headline = split_scoring.evaluate_split(
        SimpleNamespace(model=None, tokenizer=tokenizer), split, gen, 48, tmp_path / "out", "validation",
        console=Console(file=console, width=200), extra={"run": {"name": "tiny"}}, seed=3,
    )  # fmt: skip
    return headline, calls, documents, tmp_path / "out", console.getvalue()


def test_the_documents_are_summarised_once_in_input_order_with_the_run_settings(scored):
    _, calls, documents, _, _ = scored
    assert calls == [(documents, GenerationArgs(num_beams=1, max_new_tokens=20), 48)]


def test_predictions_are_written_in_input_order_with_their_own_rouge(scored):
    _, _, documents, out, _ = scored
    rows = [json.loads(line) for line in (out / "predictions_validation.jsonl").read_text().splitlines()]
    expected = compute_rouge(PREDICTIONS, [[r] for r in REFERENCES], seed=3)
    assert [row["id"] for row in rows] == [f"n{i}" for i in range(6)]
    assert [(row["document"], row["prediction"], row["references"]) for row in rows] == [
        (d, p, [r]) for d, p, r in zip(documents, PREDICTIONS, REFERENCES)
    ]
    for row, scores in zip(rows, expected.per_example):
        assert row["rouge"] == {kind: round(value["fmeasure"], 6) for kind, value in scores.items()}


def test_the_report_holds_the_model_and_its_lead_k_baseline_and_the_headline_is_returned(scored):
    headline, _, _, out, console = scored
    report = json.loads((out / "rouge_validation.json").read_text())
    k = choose_lead_k([[r] for r in REFERENCES])
    assert set(report["systems"]) == {"model", f"lead-{k}"}
    model = report["systems"]["model"]["aggregate"]
    assert headline == {kind: round(100 * stats["fmeasure"]["mean"], 2) for kind, stats in model.items()}
    assert report["run"] == {"name": "tiny"} and report["generation"]["max_new_tokens"] == 20
    assert report["source_overflow"]["documents"] == 6 and report["throughput"]["summaries_per_s"] > 0
    assert report["avg_words_prediction"] == round(sum(len(p.split()) for p in PREDICTIONS) / 6, 2)
    markdown = (out / "rouge_validation.md").read_text()
    assert UNCASED_NOTE in markdown and "Source documents:" in markdown  # the tokenizer is uncased
    assert "ROUGE on validation (6 examples)" in console and "validation documents:" in console


def test_throughput_counts_summary_tokens_without_special_tokens(tokenizer):
    speed = split_scoring.throughput(tokenizer, ["a short summary", "two words"], 2.0)
    assert speed == {"generation_seconds": 2.0, "summaries_per_s": 1.0, "tokens_per_s": 2.5, "summary_tokens": 5}
