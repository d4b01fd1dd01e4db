"""One gradient update of a bundled trainer (TD3 or DQN), timed or broken down by where its
time goes, on the spikes of learning: the trainer first takes `warm_steps` env steps with
updates, so its replay buffer, normalisation and firing rates are those of training rather
than of a fresh network. The benchmarks that time updates (benchmarks/td3_update.py,
benchmarks/spike_linear_models.py) build their trainers and hand them to these functions.
"""
from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterator

import torch

# Where an update's time goes, by the operators' self time. Each aten / spikekern op that
# does the work of one of these groups, by name; everything else is "other": the small
# operators (elementwise, views, copies, reductions) and autograd's own bookkeeping, whose
# count rather than size sets their cost.
_DENSE = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"}
_ADAM = {"aten::_fused_adam_", "aten::_fused_adamw_"}


def op_group(name: str) -> str:
    """The group of one profiler event name."""
    if name.startswith("spikekern::spike_linear"):
        return "spike_linear"
    if name.startswith("spikekern::") or name.startswith("spikekern_triton::"):
        return "neurons"
    if name in _DENSE:
        return "dense products"
    if name in _ADAM:
        return "Adam"
    return "other"


@contextmanager
def dense_layers(enabled: bool = True) -> Iterator[None]:
    """Models built inside have every layer a plain product (nn.Linear or the batched seed
    product), as before spike_linear: the "before" of a same-process comparison."""
    from ..nn import linear

    min_out = linear.SPIKE_LINEAR_MIN_OUT
    linear.SPIKE_LINEAR_MIN_OUT = 2**62 if enabled else min_out  # read when a layer is built
    try:
        yield
    finally:
        linear.SPIKE_LINEAR_MIN_OUT = min_out


@contextmanager
def warmed(tr, warm_steps: int = 300) -> Iterator:
    """The trainer after `warm_steps` env steps of training and one more update (so every
    lazy allocation is made); closed, with its loggers, on leaving."""
    try:
        while tr.agent_step() < warm_steps:
            tr.step_once()
        tr.update()
        yield tr
    finally:
        tr.close()
        for run in tr.runs:
            run.logger.close()


def time_updates(tr, updates: int) -> float:
    """Mean milliseconds of one tr.update() over `updates` consecutive ones."""
    t0 = time.perf_counter()
    for _ in range(updates):
        tr.update()
    return (time.perf_counter() - t0) / updates * 1e3


def profile_updates(tr, updates: int) -> dict:
    """Milliseconds per update of each op_group, from torch.profiler's self times over
    `updates` updates, and the operator calls per update. The profiler adds its own cost to
    every call, so the groups' total exceeds an unprofiled update: read them as shares."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(updates):
            tr.update()
    ms: dict[str, float] = defaultdict(float)
    calls = 0
    for ev in prof.key_averages():
        ms[op_group(ev.key)] += ev.self_cpu_time_total / 1e3 / updates
        calls += ev.count
    return dict(ms_per_update=dict(ms), op_calls_per_update=calls / updates)


def speedup_if_free(ms: dict[str, float], groups: tuple[str, ...]) -> float:
    """How many times faster the update would be if the given groups (of profile_updates'
    ms_per_update) took no time at all: Amdahl's bound on what speeding them up can give."""
    removed = sum(ms.get(g, 0.0) for g in groups) / sum(ms.values())
    return 1.0 / (1.0 - removed) if removed < 1.0 else float("inf")
