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

from ..nn.seeds import check_seeds, seed_shape


class RunningNorm(nn.Module):
    """seeds=K: K seeds' statistics (mean and var [K, dim], count [K]), observations [*, K, dim]."""

    def __init__(self, dim: int, clip: float = 3.0, eps: float = 1e-8, seeds: int | None = None):
        super().__init__()
        self.clip, self.eps = float(clip), float(eps)
        lead = seed_shape(check_seeds(seeds))
        self.register_buffer("mean", torch.zeros(*lead, dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(*lead, dim, dtype=torch.float64))
        self.register_buffer("count", torch.zeros(lead, dtype=torch.float64))

    @torch.no_grad()
    def update(self, obs: np.ndarray) -> None:
        """Add a batch (or one) of observations (parallel Welford update); K seeds: [n, K, dim]
        or [K, dim], each seed's own."""
        x = torch.as_tensor(np.asarray(obs, dtype=np.float64)).reshape(-1, *self.mean.shape)
        n = x.shape[0]
        b_mean, b_var = x.mean(0), x.var(0, unbiased=False)
        total = self.count + n
        count, total_ = self.count.unsqueeze(-1), total.unsqueeze(-1)  # per seed, over the features
        delta = b_mean - self.mean
        self.mean += delta * n / total_
        self.var = (self.var * count + b_var * n + delta.square() * count * n / total_) / total_
        self.count = total

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        z = (obs - self.mean.to(obs.dtype)) / torch.sqrt(self.var.to(obs.dtype) + self.eps)
        return z.clamp(-self.clip, self.clip)
