"""Durable checkpoints and the RNG state a run needs to resume exactly.

A checkpoint is written to a temporary file, flushed and fsync'ed, then renamed into place and
the directory fsync'ed, so a crash or power loss leaves either the old or the new file, never
a truncated one. The previous checkpoint is kept (checkpoint.prev.pt) until the new one is in
place, and resuming falls back to it, with a warning naming the damaged file, when the newest
is missing, truncated or unreadable.

checkpoint.pt holds what exact resume needs, including a pickled snapshot of the env and
numpy RNG state, so it is loaded with weights_only=False: resume only runs you trust, as you
would run their code. What is shared and evaluated is model.pt (see agents.py).
"""
from __future__ import annotations

import contextlib
import copy
import os
import pickle
import random
import signal
import threading
import warnings
from pathlib import Path

import numpy as np
import torch

CHECKPOINT = "checkpoint.pt"
PREVIOUS = "checkpoint.prev.pt"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def signals_held():
    """Ctrl-C (SIGINT) and SIGTERM that arrive inside the block are held, and handed to their
    own handlers when it ends. A save must not be cut short: an interrupt raised inside
    torch.save leaves its zip writer broken, and torch turns it into a RuntimeError on the
    way out, so the interrupted run could not even save on its way down."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread sets handlers; Python runs them there alone
        return
    held = []
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if handler is not None and handler is not signal.SIG_IGN:  # None: set outside Python
            previous[signum] = signal.signal(signum, lambda s, frame: held.append(s))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(held):
            signal.raise_signal(signum)


def atomic_save(obj, path: Path, previous: Path | None = None) -> None:
    """torch.save to a temporary file, fsync, rename over the target, fsync the directory:
    never half-written, and on disk once this returns. previous: where the file being
    replaced is kept (renamed, not deleted). An interrupt that arrives meanwhile is
    delivered once the file is in place (signals_held)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with signals_held():
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        if previous is not None and path.exists():
            os.replace(path, previous)
        os.replace(tmp, path)
        _fsync_dir(path.parent)


def rng_state(gen: np.random.Generator, torch_gen: torch.Generator | None = None) -> dict:
    """The run's random streams: numpy's `gen`, torch's (`torch_gen`, or the global
    generator), Python's."""
    torch_state = torch.get_rng_state() if torch_gen is None else torch_gen.get_state()
    return dict(torch=torch_state, numpy=gen.bit_generator.state, python=random.getstate())


def set_rng_state(state: dict, gen: np.random.Generator, torch_gen: torch.Generator | None = None) -> None:
    if torch_gen is None:
        torch.set_rng_state(state["torch"])
    else:
        torch_gen.set_state(state["torch"])
    gen.bit_generator.state = state["numpy"]
    random.setstate(state["python"])


def unstack_optimizer(state: dict, k: int) -> dict:
    """Seed k's part of the state dict of an optimiser over stacked parameters
    (spikekern.nn.seeds): what the same optimiser over seed k's single parameters holds.
    Per-parameter tensors are indexed by seed; 0-dim ones (Adam's step count, the same for
    every seed of a lockstep run) are shared."""
    def part(v):
        if isinstance(v, torch.Tensor) and v.dim() > 0:
            return v[k].clone()
        return v.clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v)

    return dict(state={i: {name: part(v) for name, v in st.items()} for i, st in state["state"].items()},
                param_groups=copy.deepcopy(state["param_groups"]))


def stack_optimizer(states: list[dict]) -> dict:
    """The inverse of unstack_optimizer: K single optimiser state dicts -> the stacked one."""
    first = states[0]
    stacked = {}
    for i, st in first["state"].items():
        stacked[i] = {}
        for name, v in st.items():
            values = [s["state"][i][name] for s in states]
            if isinstance(v, torch.Tensor) and v.dim() > 0:
                stacked[i][name] = torch.stack(values)
            else:
                if any(not torch.equal(torch.as_tensor(x), torch.as_tensor(v)) for x in values):
                    raise ValueError(f"the seeds' optimiser states differ in {name!r} ({values}): they were not "
                                     "trained in lockstep")
                stacked[i][name] = v
    return dict(state=stacked, param_groups=copy.deepcopy(first["param_groups"]))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def seed_everything(seed: int) -> np.random.Generator:
    random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def env_snapshot(env):
    """The training env's full state, if it can be pickled (classic-control envs can;
    simulator-backed ones may not), else None: a resumed run then starts a new episode."""
    try:
        return pickle.dumps(env)
    except Exception:  # noqa: BLE001 - any pickling failure means "no snapshot"
        return None


@contextlib.contextmanager
def interrupt_on_sigterm():
    """Inside the block SIGTERM (what job schedulers and `timeout` send) raises
    KeyboardInterrupt like Ctrl-C, so a trainer saves its checkpoint before it exits."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def save_checkpoint(state: dict, run_dir: Path) -> None:
    atomic_save(state, Path(run_dir) / CHECKPOINT, previous=Path(run_dir) / PREVIOUS)


def has_checkpoint(run_dir: Path) -> bool:
    return any((Path(run_dir) / name).exists() for name in (CHECKPOINT, PREVIOUS))


def checkpoint_step(state: dict) -> int:
    """The step a checkpoint was saved at (TD3: env steps; DQN: agent steps)."""
    return state.get("step", state.get("env_steps"))


def _read(path: Path) -> dict:
    """One checkpoint file, loaded as resuming needs it (not weights-only: see above)."""
    return torch.load(path, map_location="cpu", weights_only=False)


def load_previous(run_dir: Path) -> dict | None:
    """The checkpoint before the newest (checkpoint.prev.pt), or None when it is missing or
    unreadable."""
    try:
        return _read(Path(run_dir) / PREVIOUS)
    except Exception:  # noqa: BLE001 - missing or damaged: there is no usable previous checkpoint
        return None


def load_checkpoint(run_dir: Path) -> dict:
    """The newest readable checkpoint of a run: checkpoint.pt, or, with a warning, the one
    before it when the newest is missing, truncated or unreadable."""
    run_dir = Path(run_dir)
    problems = []
    for name in (CHECKPOINT, PREVIOUS):
        path = run_dir / name
        if not path.exists():
            problems.append(f"{path} is missing")
            continue
        try:
            state = _read(path)
        except Exception as exc:  # noqa: BLE001 - a truncated file fails in many ways (OSError, EOFError, ...)
            problems.append(f"{path} is damaged ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
            continue
        if problems:
            warnings.warn(f"{'; '.join(problems)}: resuming from {path} (step {checkpoint_step(state)})",
                          RuntimeWarning, stacklevel=2)
        return state
    if not any("damaged" in p for p in problems):
        raise FileNotFoundError(f"no checkpoint in {run_dir} (expected {CHECKPOINT})")
    raise ValueError(f"no readable checkpoint in {run_dir}: {'; '.join(problems)}")
