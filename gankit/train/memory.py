"""Peak memory of a run: what the device allocator (CUDA) or the process (CPU) used at most.

CUDA: torch.cuda.max_memory_allocated, the tensors' own high-water mark (the allocator's cache on
top of it is not counted). CPU: the process's maximum resident set size from getrusage, which
includes the Python interpreter, torch's libraries and the data set, and never goes down.
"""

from __future__ import annotations

import resource
import sys

import torch

MIB = 2**20


def peak_memory(device: torch.device) -> tuple[float, str]:
    """(MiB, what was measured) for this process on `device`."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / MIB, "cuda_max_memory_allocated"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / (MIB if sys.platform == "darwin" else 1024), "cpu_max_rss"


def reset_peak(device: torch.device) -> None:
    """Start a new CUDA high-water mark (CPU max RSS cannot be reset)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
