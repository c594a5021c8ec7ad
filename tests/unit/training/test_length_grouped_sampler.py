"""Length-grouped batches whose order depends only on the seed and the epoch: a resumed run sees the batches
the uninterrupted run saw, whatever the global random state at the epoch's start."""

from __future__ import annotations

import torch

from seq2seq_adapters.training.length_grouped_sampler import EpochSeededLengthGroupedSampler

LENGTHS = [(i * 37) % 101 + 1 for i in range(64)]


def order(seed: int, epoch: int, global_seed: int) -> list[int]:
    sampler = EpochSeededLengthGroupedSampler(4, lengths=LENGTHS, seed=seed)
    sampler.set_epoch(epoch)
    torch.manual_seed(global_seed)  # what differs between an uninterrupted run and a resumed one
    return list(sampler)


def test_the_order_depends_on_seed_and_epoch_only():
    first = order(seed=7, epoch=1, global_seed=0)
    assert sorted(first) == list(range(len(LENGTHS)))  # every example once
    assert order(seed=7, epoch=1, global_seed=12345) == first
    assert order(seed=7, epoch=2, global_seed=0) != first  # a new order each epoch
    assert order(seed=8, epoch=1, global_seed=0) != first


def test_batches_are_grouped_by_length():
    """The longest example leads (the Trainer's rule: running out of memory shows at once), and each mega-batch
    (a few batches drawn at random) is sorted longest first, so a batch holds examples of similar length."""
    indices = order(seed=7, epoch=0, global_seed=0)
    assert LENGTHS[indices[0]] == max(LENGTHS)
    spread = [max(LENGTHS[i] for i in indices[k:k + 4]) - min(LENGTHS[i] for i in indices[k:k + 4]) for k in range(0, 64, 4)]
    shuffled = torch.randperm(64, generator=torch.Generator().manual_seed(0)).tolist()
    random_spread = [max(LENGTHS[i] for i in shuffled[k:k + 4]) - min(LENGTHS[i] for i in shuffled[k:k + 4]) for k in range(0, 64, 4)]
    assert sum(spread) < sum(random_spread) / 2  # 284 against 1035 (the order is seeded)
