"""The compiled CPU backend's runtime: which instruction-set build of the kernels runs, and
the pool that recycles the ops' large outputs (csrc/cpu/isa_select.cpp, output_pool.cpp).

The kernels are compiled for x86-64-v2, AVX2 (x86-64-v3) and AVX-512 (x86-64-v4); the
best one the CPU runs is chosen when the extension loads. `SPIKEKERN_CPU_ISA=baseline|avx2|
avx512` forces one (forcing one the CPU lacks is an error). Outputs of 1 MiB and more
come from a pool of blocks already mapped, so a large output does not page-fault afresh
on every call; `SPIKEKERN_CPU_POOL_MB` bounds the idle blocks it keeps (default 1024,
0 turns it off), `empty_pool()` frees them. LIF and CUBA-LIF outputs of at least
`stream_min_bytes()` (default: half the last-level cache; `SPIKEKERN_CPU_STREAM_MB` sets it)
are written with streaming stores, which skip the caches they would not stay in.
"""
from __future__ import annotations

import torch

from .backends import extension as _loader

_STAT_NAMES = ("cached_bytes", "in_use_bytes", "limit_bytes", "hits", "misses", "returned", "released")


def _ops():
    why = _loader.why_unavailable("cpu")
    if why is not None:
        raise RuntimeError(f"spikekern's CPU kernels are not available: {why}")
    return torch.ops.spikekern


def isa() -> str:
    """The instruction-set build of the CPU kernels in use: "baseline", "avx2" or "avx512"."""
    return _ops().cpu_isa()


def pool_stats() -> dict[str, int]:
    """The output pool's counters: idle and in-use bytes, the idle limit, allocations served
    from idle blocks (hits) or fresh (misses), blocks returned for reuse, blocks freed."""
    return dict(zip(_STAT_NAMES, _ops().cpu_pool_stats()))


def empty_pool() -> None:
    """Free every idle block of the output pool (live tensors are not touched)."""
    _ops().cpu_pool_empty_cache()


def set_pool_limit(limit_bytes: int) -> None:
    """Keep at most limit_bytes of idle blocks (0: no pooling); frees idle blocks over it."""
    if not isinstance(limit_bytes, int) or limit_bytes < 0:
        raise ValueError(f"the pool limit must be a whole number of bytes >= 0, got {limit_bytes!r}")
    _ops().cpu_pool_set_limit(limit_bytes)


def stream_min_bytes() -> int:
    """The size from which a LIF or CUBA-LIF output is written with streaming stores."""
    return int(_ops().cpu_stream_min_bytes())


def set_stream_min_bytes(min_bytes: int) -> None:
    """Stream outputs of at least min_bytes (0: every output; a huge value: none)."""
    if not isinstance(min_bytes, int) or isinstance(min_bytes, bool) or min_bytes < 0:
        raise ValueError(f"the streaming threshold must be a whole number of bytes >= 0, got {min_bytes!r}")
    _ops().cpu_set_stream_min_bytes(min_bytes)
