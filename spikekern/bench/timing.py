"""Timing helpers. The machines this runs on are noisy, so candidates are timed
interleaved (one call of each per round) and compared by their median over rounds: every
ratio in a report comes from the same rounds."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def interleaved(fns: dict[str, Callable[[], object]], rounds: int, warmup: int = 2,
                device: str = "cpu", max_seconds: float | None = None,
                min_seconds: float = 0.0, max_rounds: int = 2000) -> dict[str, float]:
    """Median seconds per call of each fn, timed round-robin.

    At least `rounds` rounds; more (up to max_rounds) until every candidate has run for
    min_seconds, so sub-millisecond calls get enough samples for a stable median.
    max_seconds bounds a slow candidate: one that has already used that much time stops
    being timed (at least 3 rounds are always taken)."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    _sync(device)
    samples: dict[str, list[float]] = {k: [] for k in fns}
    r = 0
    while r < rounds or (r < max_rounds and min(sum(v) for v in samples.values()) < min_seconds):
        r += 1
        for name, fn in fns.items():
            if max_seconds is not None and r > 3 and sum(samples[name]) > max_seconds:
                continue
            t0 = time.perf_counter()
            fn()
            _sync(device)
            samples[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in samples.items()}


def speedup_vs_reference(times: dict, backend: str) -> float | None:
    """How many times faster than the reference loop `backend` ran (None: not timed)."""
    return times["reference"] / times[backend] if "reference" in times else None


def speedup_text(row: dict) -> str:
    """A row's speed-up over the reference loop as a table cell ('-' where not timed)."""
    return f"{row['speedup_vs_reference']:.1f}" if row["speedup_vs_reference"] is not None else "-"
