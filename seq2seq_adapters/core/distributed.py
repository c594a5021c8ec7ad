"""The few torch.distributed facts the recipes need (torchrun / accelerate launch set RANK and WORLD_SIZE)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def world_size() -> int:
    """Number of processes in this job (1 without a launcher)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's global rank."""
    return int(os.environ.get("RANK", "0"))


def is_main_process() -> bool:
    """Only rank 0 writes files and shows progress."""
    return rank() == 0


def _state():
    """accelerate's process state; on CPU it must be told so, or it sets up no process group (no DDP)."""
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


@contextlib.contextmanager
def main_process_first() -> Iterator[None]:
    """Let rank 0 fill caches (tokenization) before the other ranks read them."""
    if world_size() == 1:
        yield
        return
    with _state().main_process_first():
        yield


def broadcast(value: T) -> T:
    """Rank 0's value on every rank."""
    if world_size() == 1:
        return value
    from accelerate.utils import broadcast_object_list

    _state()
    return broadcast_object_list([value])[0]


def rank_max(values: list[float], device: Any) -> list[float]:
    """Each value max-reduced over every process of a running torch.distributed job (as given without one),
    so that all ranks take the same decision."""
    import torch

    if not (torch.distributed.is_available() and torch.distributed.is_initialized()) or torch.distributed.get_world_size() == 1:
        return values
    tensor = torch.tensor([float(value) for value in values], device=device, dtype=torch.float64)
    torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.MAX)
    return tensor.tolist()


def any_process(flags: list[bool], device: Any) -> list[bool]:
    """Each flag OR-ed over every process (see rank_max)."""
    return [bool(value) for value in rank_max([float(flag) for flag in flags], device)]


def shard(items: Sequence[T]) -> list[T]:
    """This rank's share: items rank, rank + world, ..."""
    return list(items[rank() :: world_size()])


def unshard(local: list[Any], total: int) -> list[Any]:
    """Gather every rank's `shard` results and put them back in the original order (on every rank)."""
    if world_size() == 1:
        return local
    import torch.distributed as dist

    _state()
    gathered: list[list[Any]] = [[] for _ in range(world_size())]
    dist.all_gather_object(gathered, local)
    ordered: list[Any] = [None] * total
    for owner, values in enumerate(gathered):
        ordered[owner :: world_size()] = values
    return ordered
