"""Benchmark: summaries per second of the eval path against generation the way Seq2SeqTrainer.predict does it.

    python scripts/bench_generate.py [RUN_OR_ADAPTER_DIR] [--examples 200] [--max-new-tokens 40] ...

* eval path: `seq2seq_adapters.generation.decoding.generate_summaries` (what `s2sa eval`, `s2sa summarize` and the
  end-of-training validation use): batches of similar source length (sorted, original order restored),
  padding only within a batch, KV cache, `torch.inference_mode()`, a beam-search cache that does not
  reorder the cross-attention keys/values (identical for all beams of one example), greedy decoding
  that drops finished summaries from its batch, adapters' attention without its needless q/k/v copies
  (seq2seq_adapters/model/patched_attention.py), LoRA layers without their needless passes
  (seq2seq_adapters/model/patched_lora.py), the allocator setting every `s2sa` command makes
  (seq2seq_adapters/core/allocator.py), and on the CPU one batch per intra-op thread at once (two at most),
  each on its share of the threads (`generation.decoding_streams`).
* eval path, int8: the same with `--quantize int8` (Linear layers dynamically quantised; the int8 copy
  of the model is made inside the timed call).
* baseline: what `Seq2SeqTrainer.predict(predict_with_generate=True)` does with a sequential eval sampler:
  the examples in dataset order, fixed batches, each padded to its longest source (DataCollatorForSeq2Seq),
  stock `model.generate(...)` under `torch.no_grad()`, adapters' own attention and LoRA code. The Trainer's extra
  loss forward pass and its cross-process gathering are left out, which only flatters the baseline.

Each pass runs in a process of its own (this script again, with `--only`), because the allocator setting
holds for a whole process and the baseline must run without it; so every pass loads the same model
and warms up on its own. All use the same generation settings (the run's, overridable by flags). Without
a run folder a fresh summarizer is built from the bundled MiniLM (untrained adapter: every summary runs to
--max-new-tokens, so all paths decode the same number of steps). `--ablation` adds the steps in between
(sorted batches with stock generate(); + s2sa's search loop: the beam cache, or greedy's dropping of
finished rows; + copy-free attention; + fused LoRA, still with glibc's default allocator; + freed memory
kept; all of these one batch at a time, and int8 one batch at a time), so each candidate's gain shows.
`--repeats 2` runs the passes as A B C C B A (and so on) to cancel load drift.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import torch
from transformers import DataCollatorForSeq2Seq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fresh_process import in_fresh_process  # noqa: E402  (scripts/, this script's folder)
from peak_memory import PeakMemory  # noqa: E402

from seq2seq_adapters.config.schema import DataArgs, GenerationArgs, ModelArgs  # noqa: E402
from seq2seq_adapters.core.allocator import reuse_freed_memory  # noqa: E402
from seq2seq_adapters.data.dataset import load_summarization_data  # noqa: E402
from seq2seq_adapters.evaluation.rouge import compute_rouge, mean_words  # noqa: E402
from seq2seq_adapters.generation.decoding import generate_summaries, generation_kwargs, length_sorted_batches, pad_batch  # noqa: E402
from seq2seq_adapters.generation.loading import generation_settings, load_source  # noqa: E402
from seq2seq_adapters.generation.surface_text import decode_summaries  # noqa: E402
from seq2seq_adapters.model.builder import build_summarizer  # noqa: E402
from seq2seq_adapters.model.patched_attention import use_copy_free_attention  # noqa: E402
from seq2seq_adapters.model.patched_lora import use_fused_lora  # noqa: E402

ROUGE_NAMES = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L", "rougeLsum": "ROUGE-Lsum"}
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "dialogsum" / "test.jsonl"


def trainer_predict_style(model, tokenizer, documents, gen: GenerationArgs, max_source_length: int) -> list[str]:
    """Seq2SeqTrainer.predict's generation: dataset order, fixed batches padded to their longest, stock generate()."""
    features = tokenizer(list(documents), truncation=True, max_length=max_source_length, return_token_type_ids=False)
    rows = [{"input_ids": ids, "attention_mask": mask} for ids, mask in zip(features["input_ids"], features["attention_mask"])]
    collator = DataCollatorForSeq2Seq(tokenizer, model=None, padding=True)
    model.eval()
    summaries: list[str] = []
    with torch.no_grad():
        for start in range(0, len(rows), gen.batch_size):
            batch = collator(rows[start : start + gen.batch_size])
            output = model.generate(
                input_ids=batch["input_ids"].to(model.device),
                attention_mask=batch["attention_mask"].to(model.device),
                generation_config=model.generation_config,
                **generation_kwargs(gen),
            )
            summaries += decode_summaries(tokenizer, output, documents[start : start + gen.batch_size])  # s2sa's text, as the eval path
    return summaries


def sorted_stock_cache(model, tokenizer, documents, gen: GenerationArgs, max_source_length: int) -> list[str]:
    """Ablation: the eval path's length-sorted batches, but stock generate() (which reorders the cross cache)."""
    encoded = tokenizer(list(documents), truncation=True, max_length=max_source_length, return_token_type_ids=False)["input_ids"]
    summaries = [""] * len(documents)
    model.eval()
    with torch.inference_mode():
        for batch in length_sorted_batches([len(ids) for ids in encoded], gen.batch_size):
            input_ids, attention_mask = pad_batch([encoded[i] for i in batch], tokenizer.pad_token_id)
            output = model.generate(
                input_ids=input_ids.to(model.device),
                attention_mask=attention_mask.to(model.device),
                generation_config=model.generation_config,
                **generation_kwargs(gen),
            )
            for index, text in zip(batch, decode_summaries(tokenizer, output, [documents[i] for i in batch])):
                summaries[index] = text
    return summaries


def eval_path(model, tokenizer, documents, gen: GenerationArgs, max_source_length: int, streams: int | None = None) -> list[str]:
    """`generate_summaries`; `streams` 1 decodes one batch at a time on all intra-op threads (the ablation)."""
    return generate_summaries(model, tokenizer, documents, gen, max_source_length, streams=streams)


def eval_path_int8(model, tokenizer, documents, gen: GenerationArgs, max_source_length: int, streams: int | None = None) -> list[str]:
    """The eval path with --quantize int8 (the int8 copy is made inside, so its cost is timed too)."""
    return eval_path(model, tokenizer, documents, replace(gen, quantize="int8"), max_source_length, streams)


ONE_STREAM = partial(eval_path, streams=1)  # the ablation's steps before decoding streams

# name -> (how it generates, whether adapters' attention runs without its copies, whether LoRA layers are
# fused, whether the process has s2sa's allocator setting); the first is the baseline
METHODS = {
    "trainer-style baseline": (trainer_predict_style, False, False, False),
    "sorted batches, stock generate()": (sorted_stock_cache, False, False, False),
    "+ beam cache / finished rows dropped": (ONE_STREAM, False, False, False),
    "+ copy-free attention": (ONE_STREAM, True, False, False),
    "+ fused LoRA (glibc's default allocator)": (ONE_STREAM, True, True, False),
    "+ freed memory kept": (ONE_STREAM, True, True, True),
    "eval path": (eval_path, True, True, True),
    "eval path, int8, one batch at a time": (partial(eval_path_int8, streams=1), True, True, True),
    "eval path, int8": (eval_path_int8, True, True, True),
}
ABLATIONS = (
    "sorted batches, stock generate()",
    "+ beam cache / finished rows dropped",
    "+ copy-free attention",
    "+ fused LoRA (glibc's default allocator)",
    "+ freed memory kept",
    "eval path, int8, one batch at a time",
)


def one_pass(args) -> dict:
    """`--only NAME`: load the model and data, warm up, time one pass of NAME; its summaries and times."""
    method, copy_free, fused, allocator = METHODS[args.only]
    if allocator:
        reuse_freed_memory()  # first, as `s2sa`'s commands do: before the model's memory is allocated
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    overrides = {
        "num_beams": args.num_beams,
        "max_new_tokens": args.max_new_tokens,
        "min_new_tokens": args.min_new_tokens,
        "length_penalty": args.length_penalty,
        "no_repeat_ngram_size": args.no_repeat_ngram_size,
        "batch_size": args.batch_size,
    }
    if args.run:
        source, summarizer = load_source(args.run)
        gen = generation_settings(source.info.generation, overrides)
        max_source_length = args.max_source_length or source.info.max_source_length
        model_name = f"{args.run} ({source.info.model_args.encoder}, {source.info.model_args.adapter_config})"
    else:
        summarizer = build_summarizer(ModelArgs(adapter_config="seq_bn", train="adapter,new", leave_out=[0, 1]))
        summarizer.model.eval()
        stored = {**vars(GenerationArgs()), "num_beams": 4, "max_new_tokens": 40, "min_new_tokens": 8, "batch_size": 32}
        gen = GenerationArgs(**{**stored, **{k: v for k, v in overrides.items() if v is not None}})
        max_source_length = args.max_source_length or 256
        model_name = "fresh bundled MiniLM summarizer (untrained seq_bn adapter, leave_out 0,1)"
    model, tokenizer = summarizer.model, summarizer.tokenizer
    documents, _ = load_documents(args)
    use_copy_free_attention(copy_free)
    use_fused_lora(fused)
    method(model, tokenizer, documents[:2], replace(gen, max_new_tokens=2, min_new_tokens=0), max_source_length)  # warm-up, untimed
    with PeakMemory(model.device.type == "cuda") as memory:
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        summaries = method(model, tokenizer, documents, gen, max_source_length)  # text: every CUDA kernel has finished
        wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    lengths = [len(ids) for ids in tokenizer(documents, truncation=True, max_length=max_source_length)["input_ids"]]
    tokens = sum(len(ids) for ids in tokenizer(summaries, add_special_tokens=False)["input_ids"]) / len(summaries)
    device = torch.cuda.get_device_name(model.device) if memory.cuda else "cpu"
    return {"summaries": summaries, "wall_s": wall, "cpu_s": cpu, "avg_summary_tokens": tokens, "model": model_name,
            "peak_memory_mib": memory.peak, "memory": memory.kind,
            "generation": vars(gen), "threads": torch.get_num_threads(), "device": device,
            "source_tokens": [min(lengths), sum(lengths) / len(lengths), max(lengths)], "max_source_length": max_source_length}  # fmt: skip


def load_documents(args) -> tuple[list[str], list[list[str]]]:
    """The first --examples documents of --data and their references."""
    data = load_summarization_data(DataArgs(data=args.data), seed=0, carve_validation=False).splits["train"]
    columns = data.select(range(min(args.examples, len(data)))).select_columns(["document", "references"]).to_dict()
    return columns["document"], columns["references"]


def run_pass(argv: list[str], name: str, batch_size: int | None = None) -> dict:
    """One pass in a fresh process (this script with --only); its JSON result."""
    extra = ["--batch-size", str(batch_size)] if batch_size else []
    return in_fresh_process(__file__, [*argv, *extra], name)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", nargs="?", help="run folder or exported adapter (default: fresh bundled-MiniLM summarizer)")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="JSON lines / CSV / Parquet file with documents")
    parser.add_argument("--examples", type=int, default=200, help="first N documents of --data")
    parser.add_argument("--num-beams", type=int)
    parser.add_argument("--max-new-tokens", type=int)
    parser.add_argument("--min-new-tokens", type=int)
    parser.add_argument("--length-penalty", type=float)
    parser.add_argument("--no-repeat-ngram-size", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--max-source-length", type=int, help="default: the run's (256 for a fresh summarizer)")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=1, help="passes per method, alternated A B B A ...")
    parser.add_argument("--ablation", action="store_true", help="also time the steps in between (sorting, search loop, attention, LoRA)")
    parser.add_argument("--no-int8", action="store_true", help="leave out the eval path with --quantize int8")
    parser.add_argument("--batch-sizes", type=lambda text: [int(x) for x in text.split(",")], default=[],
                        help="afterwards, time the eval path(s) at these batch sizes too, e.g. 8,16,64")
    parser.add_argument("--json", type=Path, help="write the numbers here as JSON")
    parser.add_argument("--only", choices=list(METHODS), help=argparse.SUPPRESS)  # one pass, in this process (run_pass)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.only:
        args.out.write_text(json.dumps(one_pass(args)))
        return 0

    names = [name for name in METHODS if args.ablation or name not in ABLATIONS]
    if args.no_int8:
        names = [name for name in names if "int8" not in name]
    _, references = load_documents(args)
    order = [name for r in range(args.repeats) for name in (names if r % 2 == 0 else names[::-1])]
    wall = {name: 0.0 for name in names}
    cpu = {name: 0.0 for name in names}
    outputs: dict[str, dict] = {}
    for name in order:
        outputs[name] = run_pass(argv, name)
        wall[name] += outputs[name]["wall_s"]
        cpu[name] += outputs[name]["cpu_s"]
        print(f"  pass {name}: {outputs[name]['wall_s']:.1f} s wall, {outputs[name]['cpu_s']:.1f} s CPU", flush=True)
    first = outputs[names[0]]
    low, mean, high = first["source_tokens"]
    print(f"model: {first['model']}")
    print(f"data: {args.data}, {len(references)} documents, source tokens min/mean/max {low}/{mean:.0f}/{high} (max_source_length {first['max_source_length']})")  # fmt: skip
    print(f"generation: {first['generation']}; torch threads {first['threads']}; device {first['device']}; one process per pass; "
          f"peak memory: {first['memory']}")

    n = len(references) * args.repeats
    baseline = names[0]
    results = {}
    print("\n| path | summaries/s (wall) | tokens/s | per CPU-s | speed-up wall | speed-up CPU | tokens/summary | peak MiB | "
          "identical to baseline | " + " | ".join(ROUGE_NAMES.values()) + " |")
    print("| --- " * (9 + len(ROUGE_NAMES)) + "|")
    for name in names:
        summaries = outputs[name]["summaries"]
        rouge = compute_rouge(summaries, references).aggregate
        results[name] = {
            "summaries_per_s": n / wall[name],
            "summaries_per_cpu_s": n / cpu[name],
            "wall_s": wall[name],
            "cpu_s": cpu[name],
            "avg_summary_tokens": outputs[name]["avg_summary_tokens"],
            "tokens_per_s": n / wall[name] * outputs[name]["avg_summary_tokens"],
            "peak_memory_mib": outputs[name]["peak_memory_mib"],
            "avg_summary_words": mean_words(summaries),
            "identical_to_baseline": sum(a == b for a, b in zip(outputs[baseline]["summaries"], summaries)),
            "rouge": {kind: {k: 100 * v for k, v in rouge[kind]["fmeasure"].items()} for kind in ROUGE_NAMES},
        }
        r = results[name]
        cells = [f"{r['rouge'][k]['mean']:.2f} [{r['rouge'][k]['low']:.2f}, {r['rouge'][k]['high']:.2f}]" for k in ROUGE_NAMES]
        print(f"| {name} | {r['summaries_per_s']:.3f} | {r['tokens_per_s']:.0f} | {r['summaries_per_cpu_s']:.3f} | "
              f"{r['summaries_per_s'] / results[baseline]['summaries_per_s']:.2f}x | "
              f"{r['summaries_per_cpu_s'] / results[baseline]['summaries_per_cpu_s']:.2f}x | {r['avg_summary_tokens']:.1f} | "
              f"{r['peak_memory_mib']:.0f} | "
              f"{r['identical_to_baseline']}/{len(references)} | " + " | ".join(cells) + " |", flush=True)  # fmt: skip
    sweep = {}
    for size in args.batch_sizes:  # the eval path alone at other batch sizes (for the default)
        for name in [n for n in names if n.startswith("eval path")]:
            other = run_pass(argv, name, batch_size=size)
            same = sum(a == b for a, b in zip(outputs[name]["summaries"], other["summaries"]))
            sweep[f"{name}, batch {size}"] = {"summaries_per_s": len(references) / other["wall_s"], "peak_memory_mib": other["peak_memory_mib"],
                                              "summaries_per_cpu_s": len(references) / other["cpu_s"], "identical_to_main_batch_size": same}  # fmt: skip
            print(f"{name}, batch size {size}: {len(references) / other['wall_s']:.3f} summaries/s, {len(references) / other['cpu_s']:.3f} per CPU-s, "
                  f"peak {other['peak_memory_mib']:.0f} MiB, "
                  f"identical to batch size {first['generation']['batch_size']}: {same}/{len(references)}", flush=True)  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"results": results, "batch_sizes": sweep, "examples": len(references), "generation": first["generation"],
                                         "model": first["model"], "threads": first["threads"], "device": first["device"],
                                         "memory": first["memory"], "one_process_per_pass": True}, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
