"""Keeping large freed blocks in the process instead of returning them to the OS.

glibc serves blocks over 32 MB with mmap and unmaps them on free, so every fresh 64 MB
output page-faults again (about 15 ms per 64 MB on a 2-core machine): for a
bandwidth-bound kernel that costs more than the kernel. `keep_freed_memory()` turns that
off for this process with mallopt. `spikekern bench` and `spikekern train` call it
(`--no-malloc-tuning` skips it); library code never changes the allocator by itself.
Peers and spikekern are always timed in one process under the same setting.
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
