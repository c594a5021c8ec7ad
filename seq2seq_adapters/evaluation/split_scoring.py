"""Generate summaries for one split, score them with baselines, and write predictions and reports."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from datasets import Dataset
from rich.console import Console

from seq2seq_adapters.config.schema import GenerationArgs
from seq2seq_adapters.core.distributed import is_main_process, shard, unshard
from seq2seq_adapters.core.files import atomic_write_text
from seq2seq_adapters.core.progress import tracked
from seq2seq_adapters.evaluation.reports import rouge_table, write_rouge_report
from seq2seq_adapters.evaluation.rouge import RougeResult, choose_lead_k, compute_rouge, lead_k, mean_words
from seq2seq_adapters.generation.decoding import generate_summaries
from seq2seq_adapters.generation.long_documents import measure_overflow
from seq2seq_adapters.generation.surface_text import UNCASED_NOTE, is_uncased
from seq2seq_adapters.layout.split_report import SplitReport
from seq2seq_adapters.model.builder import BuiltModel


def headline(result: RougeResult) -> dict[str, float]:
    """Mean F1 x100 per ROUGE type: the numbers people quote."""
    return {kind: round(100 * stats["fmeasure"]["mean"], 2) for kind, stats in result.aggregate.items()}


def predictions_jsonl(
    ids: Sequence[str], documents: Sequence[str], references: Sequence[list[str]], predictions: Sequence[str], result: RougeResult
) -> str:
    """One JSON line per example, in input order, with its own ROUGE F1."""
    lines = []
    for i, (example_id, document, refs, prediction) in enumerate(zip(ids, documents, references, predictions)):
        scores = {kind: round(v["fmeasure"], 6) for kind, v in result.per_example[i].items()}
        record = {"id": example_id, "document": document, "references": refs, "prediction": prediction, "rouge": scores}
        lines.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def throughput(tokenizer, predictions: Sequence[str], seconds: float) -> dict[str, float]:
    """Generation speed as users feel it: wall-clock seconds (all processes together), summaries/s and
    summary tokens/s (the tokenizer's tokens of the summaries, without special tokens)."""
    tokens = sum(len(ids) for ids in tokenizer(list(predictions), add_special_tokens=False)["input_ids"])
    seconds = max(seconds, 1e-9)
    return {
        "generation_seconds": round(seconds, 3),
        "summaries_per_s": round(len(predictions) / seconds, 4),
        "tokens_per_s": round(tokens / seconds, 2),
        "summary_tokens": tokens,
    }


def evaluate_split(
    summarizer: BuiltModel,
    split: Dataset,
    gen: GenerationArgs,
    max_source_length: int,
    output_dir: Path,
    split_name: str,
    *,
    console: Console,
    extra: dict | None = None,
    notes: Sequence[str] = (),
    seed: int = 0,
) -> dict[str, float]:
    """Summarise a split, score it against its references and Lead-k, write files, return headline F1.

    Under a distributed launcher each rank generates its share; rank 0 gathers, scores and writes.
    """
    if is_uncased(summarizer.tokenizer):
        notes = [*notes, UNCASED_NOTE]
    columns = split.select_columns(["id", "document", "references"]).to_dict()
    documents, references = columns["document"], columns["references"]
    overflow = measure_overflow(summarizer.tokenizer, documents, max_source_length)
    console.print(f"{split_name} documents: {overflow.describe()}", highlight=False)
    local_documents = shard(documents)
    started = time.perf_counter()
    with tracked(console, "generating", len(local_documents)) as advance:
        local = generate_summaries(
            summarizer.model, summarizer.tokenizer, local_documents, gen, max_source_length, on_batch=advance
        )
    predictions = unshard(local, len(documents))
    if not is_main_process():
        return {}
    speed = throughput(summarizer.tokenizer, predictions, time.perf_counter() - started)
    console.print(f"generated {len(predictions)} summaries in {speed['generation_seconds']:.1f} s: "
                  f"{speed['summaries_per_s']:.2f} summaries/s, {speed['tokens_per_s']:.1f} tokens/s", highlight=False)  # fmt: skip
    model_result = compute_rouge(predictions, references, seed=seed)
    k = choose_lead_k(references)
    lead_result = compute_rouge([lead_k(d, k) for d in documents], references, seed=seed)
    results = {"model": model_result, f"lead-{k}": lead_result}
    lengths = {
        "avg_words_prediction": round(mean_words(predictions), 2),
        # Each example's references averaged first, so examples with more references do not weigh more.
        "avg_words_reference": round(float(np.mean([mean_words(refs) for refs in references])), 2),
        "generation": vars(gen),
        "throughput": speed,
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        SplitReport(output_dir, split_name).predictions,
        predictions_jsonl(columns["id"], documents, references, predictions, model_result),
    )
    write_rouge_report(output_dir, split_name, results, {**lengths, "source_overflow": overflow.to_dict(), **(extra or {})},
                       notes=[*notes, f"Source documents: {overflow.describe()}."])
    console.print(rouge_table(results, f"ROUGE on {split_name} ({len(documents)} examples)"))
    for warning in model_result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    return headline(model_result)

