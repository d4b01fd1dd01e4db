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
                device: str = "cpu", max_seconds: float | None = None) -> dict[str, float]:
    """Median seconds per call of each fn, timed round-robin.

    max_seconds bounds the rounds of a slow candidate: one that has already used that much
    time stops being timed (at least 3 rounds are always taken)."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    _sync(device)
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(rounds):
        for name, fn in fns.items():
            if max_seconds is not None and r >= 3 and sum(samples[name]) > max_seconds:
                continue
            t0 = time.perf_counter()
            fn()
            _sync(device)
            samples[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in samples.items()}
