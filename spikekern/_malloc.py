"""Keeping large freed blocks in the process instead of returning them to the OS.

glibc serves blocks over 32 MB with mmap and unmaps them on free, so every fresh 64 MB
block page-faults again (15 to 30 ms per 64 MB on a 2-core machine). spikekern's own CPU
outputs do not need this (they come from its output pool, csrc/cpu/output_pool.cpp);
`keep_freed_memory()` is for the rest of a process (torch's own large temporaries), and
for benchmarks that want every candidate, peers included, timed without page faults
(`spikekern bench --keep-freed-memory`). spikekern never calls it by itself.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_MAX = -4
_state = {"tuned": False}


def keep_freed_memory() -> bool:
    """Serve large blocks from the heap and keep freed memory; True if glibc accepted it."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = (libc.mallopt(_M_MMAP_MAX, 0) == 1
              and libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30) == 1
              and libc.mallopt(_M_TOP_PAD, 64 << 20) == 1)
    except (OSError, AttributeError):
        return False
    _state["tuned"] = ok
    return ok


def is_tuned() -> bool:
    return _state["tuned"]
