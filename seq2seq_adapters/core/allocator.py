"""Keep freed memory in the process instead of handing it back to the kernel (glibc malloc only).

A training step or a decoding step allocates and frees the same large tensors every time. glibc serves
each allocation above its (adaptive) mmap threshold with a fresh `mmap` and returns it with `munmap`
when freed, so the kernel zeroes every page again on first touch: 1.6 million page faults in a dozen
training steps, 2.8 million in one 200-dialogue greedy eval (docs/studies/performance-history.md). Serving everything
from the heap and never trimming it turns those into reuse. PyTorch's own CPU launcher
(`torch.backends.xeon.run_cpu`) gets the same by preloading jemalloc or tcmalloc, which this machine does
not have; glibc's `mallopt` needs no extra package and no restart. The process keeps its peak memory
until it exits, which a command-line run does soon after its peak anyway; so `s2sa`'s commands call
this, and the library does not (a program that imports s2sa owns its process's allocator).
"""

from __future__ import annotations

import ctypes
import logging

logger = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
"""glibc's `mallopt` parameter numbers (malloc.h)."""

NEVER_TRIM = -1
"""A trim threshold of -1 turns trimming off (glibc manual, "Malloc Tunable Parameters")."""


def reuse_freed_memory() -> bool:
    """Serve every allocation from glibc's heap and never trim it; False (nothing changed) without glibc."""
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols, libc's among them: no library search at start-up
        libc.gnu_get_libc_version  # only glibc has it (and mallopt's parameter numbers are glibc's)
    except (OSError, AttributeError, TypeError):
        return False
    applied = libc.mallopt(M_MMAP_MAX, 0) == 1 and libc.mallopt(M_TRIM_THRESHOLD, NEVER_TRIM) == 1
    if not applied:
        logger.debug("glibc refused mallopt; the allocator keeps its defaults")
    return applied
