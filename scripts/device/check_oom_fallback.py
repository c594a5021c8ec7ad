"""A real CUDA out-of-memory during generation (scripts/device/gpu_check.sh): the batch is halved, the
summaries stay the same, and when one document does not fit either the error is one line.

    python scripts/device/check_oom_fallback.py RUN DOCUMENTS.jsonl N

Generates N documents with 16 beams in one batch, uncapped; then again with the process's GPU memory
capped (`torch.cuda.set_per_process_memory_fraction`) at a quarter of the uncapped peak, so that the
allocator raises a genuine `torch.OutOfMemoryError`; then with a cap at the model's own size.
"""

import json
import logging
import sys
import time

import torch

from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.generation.decoding import generate_summaries
from seq2seq_adapters.generation.loading import generation_settings, load_source


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run, path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    source, summarizer = load_source(run)
    model, tokenizer = summarizer.model, summarizer.tokenizer
    docs = [json.loads(line)["dialogue"] for line in open(path)][:count]
    gen = generation_settings(source.info.generation, {"num_beams": 16, "batch_size": len(docs)})
    print("device", model.device, torch.cuda.get_device_name(0))
    start = time.perf_counter()
    free = generate_summaries(model, tokenizer, docs, gen, 256)
    peak = torch.cuda.max_memory_allocated()
    print(f"uncapped: {len(docs)} docs in one batch of 16 beams, {time.perf_counter() - start:.1f} s, peak {peak / 2**20:.0f} MiB")
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    torch.cuda.set_per_process_memory_fraction(peak // 4 / total)
    start = time.perf_counter()
    capped = generate_summaries(model, tokenizer, docs, gen, 256)
    print(f"capped at {peak // 4 / 2**20:.0f} MiB: {time.perf_counter() - start:.1f} s, peak "
          f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MiB, identical summaries {sum(a == b for a, b in zip(free, capped))}/{len(docs)}")
    model_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction((model_bytes + 2**20) / total)
    try:
        generate_summaries(model, tokenizer, docs[:2], gen, 256)
        print("no error with the cap at the model's size")
    except S2SAError as exc:
        print(f"cap at the model's size: S2SAError: {exc}")


if __name__ == "__main__":
    main()
