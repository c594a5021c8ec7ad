"""Long documents: truncation against `--long-documents chunk` (overlapping windows, then a summary of
the window summaries), on ACLSum papers (the bundled data: up to ~1,600 tokens, beyond the 512-token encoder).

    python scripts/bench_long_documents.py RUN [--samples 20] [--num-beams 1]

RUN is a run or adapter folder trained on ACLSum (e.g. the README's quick start). Both modes use the
same weights, documents, references and decoding settings; ROUGE F1 x100 with 95% bootstrap CI.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from seq2seq_adapters.config.schema import DataArgs
from seq2seq_adapters.data.dataset import load_summarization_data
from seq2seq_adapters.evaluation.rouge import compute_rouge
from seq2seq_adapters.generation.decoding import generate_summaries
from seq2seq_adapters.generation.loading import generation_settings, load_source
from seq2seq_adapters.generation.long_documents import chunked_summaries, measure_overflow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--num-beams", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    source, summarizer = load_source(args.run)
    gen = generation_settings(source.info.generation, {"num_beams": args.num_beams})
    limit = source.info.max_source_length
    test = load_summarization_data(DataArgs(), seed=0).splits["test"].select(range(args.samples))
    documents, references = test["document"], test["references"]
    print(measure_overflow(summarizer.tokenizer, documents, limit).describe())
    print(f"\n{args.samples} ACLSum test papers, {gen.num_beams} beam(s), max {gen.max_new_tokens} new tokens, source limit {limit}\n")
    print("| mode | seconds | words | ROUGE-1 | ROUGE-2 | ROUGE-L | ROUGE-Lsum |\n| --- | ---: | ---: | --- | --- | --- | --- |")
    for mode, run in (("truncate", generate_summaries), ("chunk", chunked_summaries)):
        start = time.perf_counter()
        summaries = run(summarizer.model, summarizer.tokenizer, documents, gen, limit)
        seconds = time.perf_counter() - start
        result = compute_rouge(summaries, references)
        cells = [f"{100 * result.aggregate[k]['fmeasure']['mean']:.2f} [{100 * result.aggregate[k]['fmeasure']['low']:.2f}, "
                 f"{100 * result.aggregate[k]['fmeasure']['high']:.2f}]" for k in ("rouge1", "rouge2", "rougeL", "rougeLsum")]
        words = sum(len(s.split()) for s in summaries) / len(summaries)
        print(f"| {mode} | {seconds:.0f} | {words:.1f} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
