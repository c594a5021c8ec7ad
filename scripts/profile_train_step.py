"""Where a training step's time goes: torch profiler over forward+backward on one fixed DialogSum batch.

Profiles the same batch (16 random training dialogues, 256/64 tokens, padded to the longest) twice:
as the AdapterHub reference trains it (the checkpoint's dropout, 0.1, the model's own loss
over every decoder position) and as `s2sa train` does (dropout 0, vocabulary logits only at
label positions). Prints step times and the top operators of each.

    python scripts/profile_train_step.py --threads 1
    python scripts/profile_train_step.py --threads 1 --leave-out-sweep   # step time for leave_out none / 0,1 / 0,1,2
    python scripts/profile_train_step.py --threads 1 --candidates 2      # default adapter: fused LoRA, hidden dropout
    python scripts/profile_train_step.py --threads 1 --padding-bound 2   # what summary padding costs s2sa's step (5 batches)
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile
from transformers import DataCollatorForSeq2Seq

from seq2seq_adapters.config.schema import DataArgs, ModelArgs
from seq2seq_adapters.data.dataset import load_summarization_data
from seq2seq_adapters.data.tokenization import tokenize_splits
from seq2seq_adapters.model.builder import build_summarizer
from seq2seq_adapters.model.patched_lora import use_fused_lora
from seq2seq_adapters.training.length_grouped_sampler import EpochSeededLengthGroupedSampler
from seq2seq_adapters.training.loss import label_position_loss

DIALOGSUM = Path(__file__).resolve().parents[2] / "shared" / "data" / "dialogsum"


def training_rows(args, tokenizer):
    """The first 2,000 DialogSum training dialogues, tokenized as `s2sa train` does (256/64 tokens)."""
    data = load_summarization_data(DataArgs(data=str(args.data), max_train_samples=2000), seed=args.seed)
    tokenized = tokenize_splits({"train": data.splits["train"]}, tokenizer, 256, 64)["train"]
    return tokenized.select_columns(["input_ids", "attention_mask", "labels"])


def collate(tokenizer, rows, picked: list[int]) -> dict[str, torch.Tensor]:
    """Rows `picked`, collated as DataCollatorForSeq2Seq does (padded to the longest source and summary)."""
    return DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100)([rows[i] for i in picked])


def fixed_batch(args, tokenizer) -> dict[str, torch.Tensor]:
    """`--batch-size` random training dialogues (seeded)."""
    rows = training_rows(args, tokenizer)
    return collate(tokenizer, rows, random.Random(args.seed).sample(range(len(rows)), args.batch_size))


def grouped_batches(args, tokenizer, count: int) -> list[dict[str, torch.Tensor]]:
    """`count` batches spread evenly over an epoch of `s2sa train`'s length-grouped order (its sampler, seed
    `--seed`): long and short sources alike (the order's first batch holds the longest)."""
    rows = training_rows(args, tokenizer)
    sampler = EpochSeededLengthGroupedSampler(args.batch_size, lengths=[len(ids) for ids in rows["input_ids"]], seed=args.seed)
    order = list(sampler)
    batches = len(order) // args.batch_size
    starts = [args.batch_size * (number * batches // count) for number in range(count)]
    return [collate(tokenizer, rows, order[start : start + args.batch_size]) for start in starts]


def without_summary_padding(batch: dict[str, torch.Tensor], filler: int) -> dict[str, torch.Tensor]:
    """The batch with every summary cut or filled (with `filler`) to the batch's mean real length: about the
    same number of real label positions, and none padded. Its step time is what the step would take if the
    decoder did no work on padding."""
    labels = batch["labels"]
    width = round((labels != -100).sum(1).float().mean().item())
    return {**batch, "labels": labels.masked_fill(labels == -100, filler)[:, :width].contiguous()}


def padding_bound(model, batches, filler: int, repeats: int, rounds: int) -> None:
    """`model`'s training step (s2sa's default adapter) on length-grouped batches as collated, against the
    same batches without summary padding: the most that removing the decoder's padding (the last work the
    step does for nothing) could save."""
    model.train()
    for number, batch in enumerate(batches, 1):
        labels, unpadded = batch["labels"], without_summary_padding(batch, filler)
        print(f"batch {number}: source {tuple(batch['input_ids'].shape)}, {(batch['attention_mask'] == 1).float().mean():.0%} real; "
              f"labels {tuple(labels.shape)}, {int((labels != -100).sum())} real; without padding {tuple(unpadded['labels'].shape)}")
        for round_ in range(rounds):
            padded = time_steps(lambda: label_position_loss(model, batch, model)[0].backward(), repeats)
            bare = time_steps(lambda: label_position_loss(model, unpadded, model)[0].backward(), repeats)
            print(f"  round {round_ + 1}: as collated {padded:.2f} s, without summary padding {bare:.2f} s per step "
                  f"(best of {repeats}): padding's share {(padded - bare) / padded:.1%}", flush=True)


def profile_steps(name: str, model, step, repeats: int, top: int) -> None:
    """Time `repeats` steps, then profile one and print its top operators by self CPU time."""
    model.train()
    print(f"\n{name}: {time_steps(step, repeats):.2f} s per step (best of {repeats})")
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        step()
    print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=top))


def time_steps(step, repeats: int) -> float:
    """Best wall time of `repeats` calls after one warm-up call."""
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times)


def leave_out_sweep(batch, repeats: int) -> None:
    """The AdapterDrop trade-off in time: s2sa's training step with no, two and three bottom layers left out."""
    for leave_out in ([], [0, 1], [0, 1, 2]):
        model = build_summarizer(ModelArgs(adapter_config="seq_bn", train="adapter,new", leave_out=leave_out)).model.train()
        seconds = time_steps(lambda: label_position_loss(model, batch, model)[0].backward(), repeats)
        print(f"leave_out {','.join(map(str, leave_out)) or 'none':6s} {seconds:.2f} s per step (best of {repeats})")


def candidate_sweep(shipped, batch, repeats: int, rounds: int) -> None:
    """s2sa's step with its default adapter, against adapters' own LoRA forward and the checkpoint's hidden dropout (alternating)."""
    shipped.train()
    dropout = build_summarizer(ModelArgs(hidden_dropout=None)).model.train()
    dropout.load_state_dict(shipped.state_dict())
    candidates = {
        "s2sa as shipped": (shipped, True),
        "adapters' own LoRA forward": (shipped, False),
        "checkpoint's hidden dropout": (dropout, True),
    }
    for round_ in range(rounds):
        for name, (model, fused) in candidates.items():
            use_fused_lora(fused)
            seconds = time_steps(lambda: label_position_loss(model, batch, model)[0].backward(), repeats)
            print(f"round {round_ + 1}: {name:28s} {seconds:.2f} s per step (best of {repeats})", flush=True)
    use_fused_lora(True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DIALOGSUM)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--leave-out-sweep", action="store_true", help="only time leave_out none / 0,1 / 0,1,2")
    parser.add_argument("--candidates", type=int, metavar="ROUNDS", help="only time s2sa's default-adapter step against "
                        "adapters' own LoRA forward and the checkpoint's hidden dropout 0.1, for ROUNDS alternating rounds")
    parser.add_argument("--padding-bound", type=int, metavar="ROUNDS", help="only time s2sa's default-adapter step on its "
                        "--batches length-grouped batches (spread over an epoch) as collated and without summary padding, for ROUNDS rounds")
    parser.add_argument("--batches", type=int, default=5, help="batches for --padding-bound")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.leave_out_sweep:
        tokenizer = build_summarizer(ModelArgs(adapter_config="seq_bn", train="adapter,new")).tokenizer
        leave_out_sweep(fixed_batch(args, tokenizer), args.repeats)
        return
    if args.padding_bound:
        default = build_summarizer(ModelArgs())
        batches = grouped_batches(args, default.tokenizer, args.batches)
        padding_bound(default.model, batches, default.tokenizer.convert_tokens_to_ids("."), args.repeats, args.padding_bound)
        return
    if args.candidates:
        default = build_summarizer(ModelArgs())
        candidate_sweep(default.model, fixed_batch(args, default.tokenizer), args.repeats, args.candidates)
        return

    reference = build_summarizer(ModelArgs(adapter_config="seq_bn", train="adapter,new", leave_out=[0, 1], attention_dropout=0.1, hidden_dropout=None))
    batch = fixed_batch(args, reference.tokenizer)
    print(f"batch: {args.batch_size} dialogues, source {tuple(batch['input_ids'].shape)}, labels {tuple(batch['labels'].shape)}, "
          f"{(batch['labels'] != -100).float().mean():.0%} of label positions real")
    profile_steps("reference (attention dropout 0.1, logits at every position)", reference.model,
                  lambda: reference.model(**batch).loss.backward(), args.repeats, args.top)
    ours = build_summarizer(ModelArgs(adapter_config="seq_bn", train="adapter,new", leave_out=[0, 1]))
    profile_steps("s2sa (attention dropout 0, logits at label positions)", ours.model,
                  lambda: label_position_loss(ours.model, batch, ours.model)[0].backward(), args.repeats, args.top)


if __name__ == "__main__":
    main()
