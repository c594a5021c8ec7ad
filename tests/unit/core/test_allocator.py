"""glibc's allocator told to keep freed memory (no mmap per large tensor, no trimming); nothing changed elsewhere."""

from __future__ import annotations

import ctypes

from seq2seq_adapters.core import allocator


def test_reuse_freed_memory_sets_glibc_malloc(monkeypatch):
    """On glibc both mallopt calls are made and accepted; elsewhere nothing is changed."""
    calls: list[tuple[int, int]] = []

    class GlibcStub:
        gnu_get_libc_version = object()

        def mallopt(self, param: int, value: int) -> int:
            calls.append((param, value))
            return 1

    monkeypatch.setattr(ctypes, "CDLL", lambda name: GlibcStub())
    assert allocator.reuse_freed_memory()
    assert calls == [(allocator.M_MMAP_MAX, 0), (allocator.M_TRIM_THRESHOLD, allocator.NEVER_TRIM)]

    class OtherLibc:  # musl, macOS: no gnu_get_libc_version
        def mallopt(self, param: int, value: int) -> int:
            raise AssertionError("mallopt called on a non-glibc libc")

    monkeypatch.setattr(ctypes, "CDLL", lambda name: OtherLibc())
    assert not allocator.reuse_freed_memory()
