"""Training throughput of `s2sa train` against the AdapterHub reference pipeline, each round in its own process.

Both train the same model (bundled MiniLM encoder and decoder, --leave-out 0,1; by default seq_bn with
the newly initialized weights trainable, or `--adapter-config`/`--train`) on the same DialogSum training dialogues with the same batch size,
sequence limits and number of optimizer steps. The reference is the AdapterHub summarization example:
Seq2SeqAdapterTrainer, DataCollatorForSeq2Seq, batches in dataset order padded to the longest member,
default TrainingArguments, fp32, the checkpoint's own dropout (attention and hidden, 0.1) and adapters'
own attention and LoRA code (s2sa removes their needless copies and passes: adapter_attention.py,
fused_lora.py) and glibc's default allocator (every `s2sa` command keeps freed memory instead:
allocator.py; it holds for a whole process, hence one process per round: this script again, with
`--only`). Runs alternate (ref, ours, ref, ours, ...) to cancel drift. "Final loss" is the loss on the same held-out
DialogSum validation dialogues after the last step (eval mode, the model's own loss), so that it does
not depend on which batches happened to come last.

    python scripts/bench_train.py --samples 2000 --steps 125 --rounds 2
    python scripts/bench_train.py --samples 12460 --warmup-steps 20 --steps 200 --precision bf16 --largest-batch  # a GPU
    python scripts/bench_train.py --samples 640 --steps 40 --threads 1 --rounds 2 \
        --adapter-config "lora[r=8,alpha=8,attn_matrices=['q','k','v']]|double_seq_bn" --train adapter,head --learning-rate 5e-3
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from adapters import Seq2SeqAdapterTrainer
from fresh_process import in_fresh_process  # scripts/, this script's folder
from peak_memory import PeakMemory
from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainingArguments, TrainerCallback
from transformers.trainer_callback import PrinterCallback

from seq2seq_adapters.config.schema import DataArgs, ModelArgs, RunConfig, TrainArgs
from seq2seq_adapters.core.allocator import reuse_freed_memory
from seq2seq_adapters.data.dataset import load_summarization_data
from seq2seq_adapters.data.tokenization import tokenize_splits
from seq2seq_adapters.model.artifact_io import ArtifactInfo
from seq2seq_adapters.model.builder import build_summarizer
from seq2seq_adapters.model.patched_attention import use_fast_adapter_code
from seq2seq_adapters.training.trainer import build_trainer

DIALOGSUM = Path(__file__).resolve().parents[2] / "shared" / "data" / "dialogsum"


def synchronize() -> None:
    """Wait for queued CUDA work, so that a clock read after it counts that work."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


class StepTimer(TrainerCallback):
    """Wall time of the optimizer steps after the first `warmup` (no set-up, no saving, no warm-up)."""

    def __init__(self, warmup: int = 0):
        self.warmup = warmup

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == self.warmup:
            synchronize()
            self.start = time.perf_counter()

    def on_train_end(self, args, state, control, **kwargs):
        synchronize()
        self.seconds = time.perf_counter() - self.start


CHECKPOINT_ATTENTION_DROPOUT = 0.1
"""all-MiniLM-L6-v2's (and BERT's) attention_probs_dropout_prob: what the reference trains with."""


def run_config(args, output_dir: Path, reference: bool, steps: int) -> RunConfig:
    checkpoints = {"encoder": args.model, "decoder": args.model} if args.model else {}
    model = ModelArgs(adapter_config=args.adapter_config, train=args.train, leave_out=[0, 1], **checkpoints)
    if reference:  # the checkpoint's dropout
        model.attention_dropout, model.hidden_dropout = CHECKPOINT_ATTENTION_DROPOUT, None
    return RunConfig(
        model=model,
        data=DataArgs(data=str(args.data), max_train_samples=args.samples, max_eval_samples=args.heldout,
                      max_source_length=args.source_length, max_target_length=args.target_length),
        train=TrainArgs(batch_size=args.batch_size, max_steps=steps, learning_rate=args.learning_rate, seed=args.seed,
                        logging_steps=min(10, steps), save_steps=10**9, output_dir=str(output_dir), bf16=args.precision == "bf16"),
    )


def reference_trainer(config: RunConfig, summarizer, tokenized, output_dir: Path, timer: StepTimer):
    """The AdapterHub example's trainer, untouched defaults apart from the shared budget."""
    t = config.train
    arguments = Seq2SeqTrainingArguments(
        output_dir=str(output_dir), per_device_train_batch_size=t.batch_size, learning_rate=t.learning_rate,
        max_steps=t.max_steps, seed=t.seed, logging_steps=t.logging_steps, save_strategy="no", report_to=[],
        disable_tqdm=True, bf16=t.bf16, use_cpu=not torch.cuda.is_available(),  # bf16 on a CPU needs use_cpu; same device
    )
    collator = DataCollatorForSeq2Seq(summarizer.tokenizer, model=summarizer.model, label_pad_token_id=-100)
    trainer = Seq2SeqAdapterTrainer(model=summarizer.model, args=arguments, train_dataset=tokenized["train"],
                                    data_collator=collator, processing_class=summarizer.tokenizer, callbacks=[timer])
    trainer.remove_callback(PrinterCallback)
    return trainer


def our_trainer(config: RunConfig, summarizer, tokenized, output_dir: Path, timer: StepTimer):
    """Exactly the trainer `s2sa train` builds."""
    info = ArtifactInfo(model={}, generation={}, new_weight_names=summarizer.new_weight_names)
    trainer = build_trainer(config, summarizer, {"train": tokenized["train"]}, output_dir, info, [timer])
    trainer.args.save_strategy = "no"
    return trainer


def measure_matmul_gflops(size: int = 1024, repeats: int = 20) -> float:
    """fp32 torch.matmul throughput on this machine: the ceiling for a training step."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def flops_per_token(trainer) -> float:
    """FLOPs of one forward+backward step (the trainer's own loss) on its first batch, per real (non-pad) token."""
    from torch.utils.flop_counter import FlopCounterMode

    batch = next(iter(trainer.get_train_dataloader()))
    model = trainer.model
    model.train()
    with FlopCounterMode(display=False) as counter:
        trainer.compute_loss(model, batch).backward()
    model.zero_grad(set_to_none=True)
    real_tokens = batch["attention_mask"].sum() + (batch["labels"] != -100).sum()
    return counter.get_total_flops() / real_tokens.item()


@torch.no_grad()
def heldout_loss(model, dataset, collator, batch_size: int = 32) -> float:
    """Mean per-token cross-entropy on held-out examples, eval mode, through the model's own loss."""
    model.eval()
    columns = dataset.select_columns(["input_ids", "attention_mask", "labels"])
    total, tokens = 0.0, 0
    for start in range(0, len(columns), batch_size):
        batch = collator([columns[i] for i in range(start, min(start + batch_size, len(columns)))]).to(model.device)
        count = (batch["labels"] != -100).sum().item()
        total += model(**batch).loss.item() * count
        tokens += count
    return total / tokens


PIPELINES = {"reference": reference_trainer, "s2sa": our_trainer}
PROBE_STEPS = 2
"""Steps of a largest-batch probe: the second has the optimizer's state allocated, as every later step."""


def prepare(name: str, args, steps: int):
    """This process set up as the pipeline's command would be, the model built, the data tokenized."""
    if name == "s2sa":
        reuse_freed_memory()  # first, as `s2sa train` does
    torch.set_num_threads(args.threads)
    config = run_config(args, Path(tempfile.mkdtemp()), reference=name == "reference", steps=steps)
    torch.manual_seed(args.seed)
    summarizer = build_summarizer(config.model)
    use_fast_adapter_code(name != "reference")  # the reference runs adapters' own attention matching and LoRA
    data = load_summarization_data(config.data, seed=args.seed)
    splits = {split: data.splits[split] for split in ("train", "validation")}
    return config, summarizer, tokenize_splits(splits, summarizer.tokenizer, args.source_length, args.target_length)


def run_once(name: str, args) -> dict:
    """One round of one pipeline, in this process (`--only NAME`)."""
    config, summarizer, tokenized_all = prepare(name, args, args.warmup_steps + args.steps)
    tokenized = {"train": tokenized_all["train"]}
    timer = StepTimer(args.warmup_steps)
    trainer = PIPELINES[name](config, summarizer, tokenized, Path(config.train.output_dir), timer)
    flops = flops_per_token(trainer) if args.flops else 0.0
    with PeakMemory(summarizer.model.device.type == "cuda") as memory:
        trainer.train()
    samples = args.steps * args.batch_size
    lengths = tokenized["train"].select_columns(["input_ids", "labels"]).to_dict()
    mean_tokens = (sum(map(len, lengths["input_ids"])) + sum(map(len, lengths["labels"]))) / len(lengths["labels"])
    # tokens_per_s counts real (non-pad) source + summary tokens
    return {
        "name": name,
        "samples_per_s": samples / timer.seconds,
        "tokens_per_s": samples * mean_tokens / timer.seconds,
        "peak_memory_mib": memory.peak,
        "memory": memory.kind,
        "last_logged_train_loss": [entry["loss"] for entry in trainer.state.log_history if "loss" in entry][-1],
        "final_loss": heldout_loss(summarizer.model, tokenized_all["validation"], trainer.data_collator),
        "flops_per_token": flops,
        "seconds": timer.seconds,
        "device": torch.cuda.get_device_name(0) if memory.cuda else "cpu",
    }


def longest_rows(dataset, count: int):
    """`count` rows, the longest (source + summary tokens) first, repeated when there are fewer: a batch's worst case."""
    lengths = [len(a) + len(b) for a, b in zip(dataset["input_ids"], dataset["labels"])]
    order = sorted(range(len(lengths)), key=lengths.__getitem__, reverse=True)
    return dataset.select([order[i % len(order)] for i in range(count)])


def bisect_largest(fits, start: int, limit: int) -> int:
    """The largest batch in [start, limit] that `fits`, to within an eighth: double from `start`, then bisect.
    0 if not even `start` fits."""
    low, high = 0, start
    while high <= limit and fits(high):
        low, high = high, high * 2
    if low == 0:
        return 0
    high = min(high, limit + 1)
    while high - low > max(1, low // 8):
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def find_largest_batch(name: str, args) -> dict:
    """`--only NAME --find-largest-batch`: this pipeline's largest batch, each candidate two steps on the longest rows."""
    config, summarizer, tokenized_all = prepare(name, args, PROBE_STEPS)
    tried: dict[int, bool] = {}

    def fits(batch_size: int) -> bool:
        config.train.batch_size = batch_size
        tokenized = {"train": longest_rows(tokenized_all["train"], batch_size * PROBE_STEPS)}
        trainer = PIPELINES[name](config, summarizer, tokenized, Path(config.train.output_dir), StepTimer())
        try:
            trainer.train()
            tried[batch_size] = True
        except torch.OutOfMemoryError:
            tried[batch_size] = False
        del trainer
        summarizer.model.zero_grad(set_to_none=True)
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        print(f"  {name} batch {batch_size}: {'fits' if tried[batch_size] else 'out of memory'}", flush=True)
        return tried[batch_size]

    return {"largest_batch": bisect_largest(fits, args.batch_size, args.batch_limit), "tried": tried}


def run_rounds(argv: list[str], rounds: int, batch_size: int) -> dict[str, dict]:
    """`rounds` rounds of each pipeline at `batch_size`, alternating, each in a fresh process; each pipeline's means."""
    results: dict[str, list[dict]] = {name: [] for name in PIPELINES}
    for round_ in range(rounds):
        for name in PIPELINES:
            result = in_fresh_process(__file__, [*argv, "--batch-size", str(batch_size)], name)  # one round of one pipeline
            results[name].append(result)
            print(f"batch {batch_size} round {round_ + 1} {name:9s} {result['samples_per_s']:.2f} samples/s "
                  f"{result['tokens_per_s']:.0f} tokens/s peak {result['peak_memory_mib']:.0f} MiB ({result['memory']}) "
                  f"held-out loss {result['final_loss']:.4f} (last logged train loss {result['last_logged_train_loss']:.4f})",
                  flush=True)
    return {name: {key: sum(r[key] for r in runs) / len(runs) if isinstance(runs[0][key], float) else runs[0][key]
                   for key in runs[0]} | {"rounds": runs} for name, runs in results.items()}


def report(summary: dict[str, dict], ceiling: float | None) -> None:
    """Each pipeline's means and s2sa's ratios to the reference."""
    for name, mean in summary.items():
        share = ""
        if ceiling:
            achieved = mean["flops_per_token"] * mean["tokens_per_s"] / 1e9
            share = f"  matmul share {achieved / ceiling:.1%} ({achieved:.1f} GFLOP/s)"
        print(f"{name:9s} samples/s {mean['samples_per_s']:.2f}  tokens/s {mean['tokens_per_s']:.0f}  "
              f"peak {mean['peak_memory_mib']:.0f} MiB ({mean['memory']})  held-out loss {mean['final_loss']:.4f}{share}")
    ours, reference = summary["s2sa"], summary["reference"]
    print(f"speed-up (samples/s): {ours['samples_per_s'] / reference['samples_per_s']:.2f}x   "
          f"peak memory: {ours['peak_memory_mib'] / reference['peak_memory_mib']:.2f}x   "
          f"held-out loss difference: {abs(ours['final_loss'] / reference['final_loss'] - 1):.1%}\n", flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DIALOGSUM)
    parser.add_argument("--model", help="encoder and decoder checkpoint (default: the bundled MiniLM)")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=125, help="timed optimizer steps")
    parser.add_argument("--warmup-steps", type=int, default=0, help="untimed steps before them (CUDA's first kernels)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--source-length", type=int, default=256)
    parser.add_argument("--target-length", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="bf16: the Trainer's mixed precision")
    parser.add_argument("--adapter-config", default="seq_bn", help="both pipelines' adapter (s2sa's default: "
                        f"{ModelArgs.adapter_config})")
    parser.add_argument("--train", default="adapter,new", help=f"weights both pipelines train (s2sa's default: {ModelArgs.train})")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--heldout", type=int, default=200, help="validation dialogues for the final loss")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: no oversubscription of 2 shared cores)")
    parser.add_argument("--no-flops", dest="flops", action="store_false")
    parser.add_argument("--largest-batch", action="store_true", help="afterwards, time both at the largest batch both fit")
    parser.add_argument("--batch-limit", type=int, default=8192, help="with --largest-batch: try no batch above this")
    parser.add_argument("--json", type=Path, help="write the numbers here as JSON")
    parser.add_argument("--only", choices=list(PIPELINES), help=argparse.SUPPRESS)  # one round, in this process (run_round)
    parser.add_argument("--find-largest-batch", action="store_true", help=argparse.SUPPRESS)  # with --only
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return parser


def main() -> None:
    args = build_parser().parse_args()
    if args.only:
        result = find_largest_batch(args.only, args) if args.find_largest_batch else run_once(args.only, args)
        args.out.write_text(json.dumps(result))
        return
    torch.set_num_threads(args.threads)

    argv = sys.argv[1:]
    summaries = {args.batch_size: run_rounds(argv, args.rounds, args.batch_size)}
    ceiling = measure_matmul_gflops() if args.flops and not torch.cuda.is_available() else None  # the CPU's matmul share
    if ceiling:
        print(f"\ntorch.matmul fp32 ceiling: {ceiling:.1f} GFLOP/s ({torch.get_num_threads()} threads)")
    print(f"\nbatch {args.batch_size}, {args.precision}, {args.steps} timed steps after {args.warmup_steps}:")
    report(summaries[args.batch_size], ceiling)
    largest = {}
    if args.largest_batch:
        largest = {name: in_fresh_process(__file__, [*argv, "--find-largest-batch"], name) for name in PIPELINES}
        common = min(found["largest_batch"] for found in largest.values())
        print("largest batch that fits: " + ", ".join(f"{name} {found['largest_batch']}" for name, found in largest.items()))
        if common > args.batch_size:
            summaries[common] = run_rounds([*argv, "--no-flops"], args.rounds, common)
            print(f"\nbatch {common} (the largest both fit), {args.precision}:")
            report(summaries[common], None)
    if args.json:
        args.json.write_text(json.dumps({"precision": args.precision, "steps": args.steps, "warmup_steps": args.warmup_steps,
                                         "largest_batch": largest, "by_batch_size": summaries}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
