"""A length-grouped batch order that resumes identically: it depends only on the seed and the epoch."""

from __future__ import annotations

import torch
from transformers.trainer_pt_utils import LengthGroupedSampler


class EpochSeededLengthGroupedSampler(LengthGroupedSampler):
    """LengthGroupedSampler whose order depends only on (seed, epoch), not on the global torch RNG.

    The stock sampler draws from the global RNG, whose state at an epoch start differs between an
    uninterrupted run and a resumed one; this one gives the same batches either way.
    """

    def __init__(self, *args, seed: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        self.generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return super().__iter__()
