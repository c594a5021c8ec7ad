"""Peak memory of a block of code, for scripts/bench_*.py: allocated GPU memory on CUDA, resident memory on the CPU.

On a GPU the figure that limits the batch is what torch allocates (`torch.cuda.max_memory_allocated`, which a
reset at the start sets to what is held then: weights included). On the CPU it is the process's resident set,
sampled by a thread because nothing records its peak for a part of a run.
"""

from __future__ import annotations

import threading
import time

import psutil
import torch


class PeakMemory:
    """`with PeakMemory(cuda) as memory: ...`; then `memory.peak` in MiB and `memory.kind` says which memory."""

    def __init__(self, cuda: bool, interval: float = 0.05):
        self.cuda, self.interval, self.peak = cuda, interval, 0.0
        self.kind = "GPU allocated" if cuda else "resident (RSS)"
        self._stop = threading.Event()

    def __enter__(self) -> PeakMemory:
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        process = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, process.memory_info().rss / 2**20)
            time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        if self.cuda:
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated() / 2**20
        else:
            self._stop.set()
            self._thread.join()
