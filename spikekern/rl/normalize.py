"""Running observation normalisation (the ILC-SAN scripts' `*_norm` variant).

A module, so its statistics travel in state_dicts with the networks. The replay buffer keeps
raw observations and they are normalised when used, with the current statistics (a
normalising env wrapper would freeze each stored observation's normalisation at the time it
was collected).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


class RunningNorm(nn.Module):
    def __init__(self, dim: int, clip: float = 3.0, eps: float = 1e-8):
        super().__init__()
        self.clip, self.eps = float(clip), float(eps)
        self.register_buffer("mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(dim, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(0.0, dtype=torch.float64))

    @torch.no_grad()
    def update(self, obs: np.ndarray) -> None:
        """Add a batch (or one) of observations (parallel Welford update)."""
        x = torch.as_tensor(np.asarray(obs, dtype=np.float64)).reshape(-1, self.mean.shape[0])
        n = x.shape[0]
        b_mean, b_var = x.mean(0), x.var(0, unbiased=False)
        total = self.count + n
        delta = b_mean - self.mean
        self.mean += delta * n / total
        self.var = (self.var * self.count + b_var * n + delta.square() * self.count * n / total) / total
        self.count = total

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        z = (obs - self.mean.to(obs.dtype)) / torch.sqrt(self.var.to(obs.dtype) + self.eps)
        return z.clamp(-self.clip, self.clip)
