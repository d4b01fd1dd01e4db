"""Atomic checkpoints and the RNG state a run needs to resume exactly."""
from __future__ import annotations

import contextlib
import os
import pickle
import random
import signal
from pathlib import Path

import numpy as np
import torch

CHECKPOINT = "checkpoint.pt"


def atomic_save(obj, path: Path) -> None:
    """torch.save to a temporary file, then rename over the target: never half-written."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def rng_state(gen: np.random.Generator) -> dict:
    return dict(torch=torch.get_rng_state(), numpy=gen.bit_generator.state, python=random.getstate())


def set_rng_state(state: dict, gen: np.random.Generator) -> None:
    torch.set_rng_state(state["torch"])
    gen.bit_generator.state = state["numpy"]
    random.setstate(state["python"])


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


def load_checkpoint(run_dir: Path) -> dict:
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint in {run_dir} (expected {path.name})")
    return torch.load(path, map_location="cpu", weights_only=False)
