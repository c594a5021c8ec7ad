"""Rank and world size from the launcher's environment, each rank's share of the items, and the gather that
puts the shares back in input order (torch.distributed's collectives stood in for)."""

from __future__ import annotations

import pytest
import torch

from seq2seq_adapters.core import distributed


@pytest.fixture
def ranks(monkeypatch):
    """Set RANK / WORLD_SIZE as torchrun does."""

    def launch(rank: int, world: int) -> None:
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", str(world))

    return launch


def test_without_a_launcher_there_is_one_main_process(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert (distributed.rank(), distributed.world_size(), distributed.is_main_process()) == (0, 1, True)
    items = list("abcde")
    assert distributed.shard(items) == items and distributed.unshard(items, 5) == items
    assert distributed.broadcast({"step": 3}) == {"step": 3}
    with distributed.main_process_first():
        pass


def test_each_rank_gets_every_world_size_th_item(ranks):
    items = list(range(10))
    shares = {}
    for rank in range(3):
        ranks(rank, 3)
        shares[rank] = distributed.shard(items)
        assert distributed.is_main_process() == (rank == 0)
    assert shares == {0: [0, 3, 6, 9], 1: [1, 4, 7], 2: [2, 5, 8]}


def test_unshard_puts_every_ranks_share_back_in_input_order(ranks, monkeypatch):
    """What sharded generation relies on: rank r's results are items r, r + world, ... of the input."""
    items = [f"summary {i}" for i in range(7)]
    shares = {}
    for rank in range(3):
        ranks(rank, 3)
        shares[rank] = distributed.shard(items)

    def all_gather_object(gathered, local):
        gathered[:] = [shares[rank] for rank in range(3)]

    monkeypatch.setattr(distributed, "_state", lambda: None)
    monkeypatch.setattr(torch.distributed, "all_gather_object", all_gather_object)
    ranks(1, 3)
    assert distributed.unshard(shares[1], len(items)) == items


def test_without_a_process_group_each_process_decides_alone():
    """rank_max / any_process outside a torch.distributed job: the values as given."""
    assert not torch.distributed.is_initialized()
    assert distributed.rank_max([0.5, 2.0], "cpu") == [0.5, 2.0]
    assert distributed.any_process([True, False], "cpu") == [True, False]
