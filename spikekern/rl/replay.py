"""Replay buffer for continuous-control TD3 (raw observations, float32)."""
from __future__ import annotations

import numpy as np
import torch


class ReplayBuffer:
    def __init__(self, obs_dim: int, act_dim: int, size: int):
        self.obs = np.zeros((size, obs_dim), np.float32)
        self.obs2 = np.zeros((size, obs_dim), np.float32)
        self.act = np.zeros((size, act_dim), np.float32)
        self.rew = np.zeros(size, np.float32)
        self.done = np.zeros(size, np.float32)
        self.ptr, self.size, self.max_size = 0, 0, size

    def store(self, obs, act, rew, obs2, done) -> None:
        i = self.ptr
        self.obs[i], self.act[i], self.rew[i], self.obs2[i], self.done[i] = obs, act, rew, obs2, done
        self.ptr = (self.ptr + 1) % self.max_size
        self.size = min(self.size + 1, self.max_size)

    def sample(self, batch_size: int, rng: np.random.Generator, device="cpu") -> dict:
        idx = rng.integers(0, self.size, size=batch_size)
        as_t = lambda a: torch.as_tensor(a[idx], device=device)
        return dict(obs=as_t(self.obs), act=as_t(self.act), rew=as_t(self.rew), obs2=as_t(self.obs2),
                    done=as_t(self.done))

    def state_dict(self) -> dict:
        """The filled part only, as views: a checkpoint is written right away, and copying a
        full buffer first (0.2 GB for HalfCheetah at 1M steps) would only cost time."""
        n = self.size
        return dict(obs=self.obs[:n], obs2=self.obs2[:n], act=self.act[:n], rew=self.rew[:n], done=self.done[:n],
                    ptr=self.ptr, size=self.size)

    def load_state_dict(self, state: dict) -> None:
        n = state["size"]
        for k in ("obs", "obs2", "act", "rew", "done"):
            getattr(self, k)[:n] = state[k]
        self.ptr, self.size = state["ptr"], n
