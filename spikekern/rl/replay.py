"""Replay buffer for continuous-control TD3 (raw observations, float32).

With seeds=K it holds K seeds' buffers side by side ([size, K, dim]), filled in lockstep (the
seeds of one process step their envs together); each seed samples its own indices with its
own random stream, and one gather serves them all. A seed's part converts to and from the
single buffer's state dict, so its checkpoint is a single run's.
"""
from __future__ import annotations

import numpy as np
import torch

FIELDS = ("obs", "obs2", "act", "rew", "done")


class ReplayBuffer:
    def __init__(self, obs_dim: int, act_dim: int, size: int, seeds: int | None = None):
        lead = () if seeds is None else (seeds,)
        self.seeds = seeds
        self.obs = np.zeros((size, *lead, obs_dim), np.float32)
        self.obs2 = np.zeros((size, *lead, obs_dim), np.float32)
        self.act = np.zeros((size, *lead, act_dim), np.float32)
        self.rew = np.zeros((size, *lead), np.float32)
        self.done = np.zeros((size, *lead), np.float32)
        self.ptr, self.size, self.max_size = 0, 0, size

    def store(self, obs, act, rew, obs2, done) -> None:
        """One transition (K seeds: one per seed, [K, ...])."""
        i = self.ptr
        self.obs[i], self.act[i], self.rew[i], self.obs2[i], self.done[i] = obs, act, rew, obs2, done
        self.ptr = (self.ptr + 1) % self.max_size
        self.size = min(self.size + 1, self.max_size)

    def sample(self, batch_size: int, rng, device="cpu") -> dict:
        """A batch drawn with rng (K seeds: a list of K generators, batch [B, K, ...])."""
        if self.seeds is None:
            idx = rng.integers(0, self.size, size=batch_size)
        else:  # each seed's indices from its own stream, as its single run draws them
            idx = (np.stack([g.integers(0, self.size, size=batch_size) for g in rng], axis=1), np.arange(self.seeds))
        return {k: torch.as_tensor(getattr(self, k)[idx], device=device) for k in FIELDS}

    def state_dict(self, seed: int | None = None) -> dict:
        """The filled part only (a single buffer: as views, since a checkpoint is written right
        away and copying a full buffer first, 0.2 GB for HalfCheetah at 1M steps, would only
        cost time). K seeds: seed `seed`'s part, in the single buffer's format."""
        n = self.size
        pick = (lambda a: a[:n]) if seed is None else (lambda a: np.ascontiguousarray(a[:n, seed]))
        return dict(**{k: pick(getattr(self, k)) for k in FIELDS}, ptr=self.ptr, size=self.size)

    def load_state_dict(self, state: dict, seed: int | None = None) -> None:
        """A single buffer's state dict (K seeds: into seed `seed`'s part)."""
        n = state["size"]
        for k in FIELDS:
            if seed is None:
                getattr(self, k)[:n] = state[k]
            else:
                getattr(self, k)[:n, seed] = state[k]
        self.ptr, self.size = state["ptr"], n
