"""Population coding (NEURONS.md §6, seed 001): learnable Gaussian receptive-field encoder
and the per-action population decoder."""
from __future__ import annotations

import torch
from torch import nn

from ..ops import DECODES
from .neurons import IFEncoderNeuron, NonSpikingIF

ENCODE_MODES = ("pop-det", "pop-ran", "pop-raw")
DECODE_MODES = DECODES + ("fr-mlp",)


class PopSpikeEncoder(nn.Module):
    """[B, obs_dim] -> [T, B, obs_dim * pop_dim].

    Each observation dimension has pop_dim neurons with learnable Gaussian receptive fields:
    means evenly spaced over mean_range, stds initialised to `std`;
    A = exp(-(o - mean)^2 / (2 std^2)).
    mode "pop-det": A repeated T times drives IF neurons (deterministic spike trains);
    "pop-ran": Bernoulli(A) spikes each step (straight-through gradient);
    "pop-raw": A repeated T times as analog input.
    """

    def __init__(self, obs_dim, pop_dim, spike_ts, mean_range, std, mode="pop-det", backend=None):
        super().__init__()
        if mode not in ENCODE_MODES:
            raise ValueError(f"unknown encoder mode {mode!r}; choose one of {list(ENCODE_MODES)}")
        if pop_dim < 2:
            raise ValueError(f"pop_dim must be >= 2 to space the means over mean_range, got {pop_dim}")
        self.obs_dim, self.pop_dim, self.spike_ts, self.mode = int(obs_dim), int(pop_dim), int(spike_ts), mode
        lo, hi = float(mean_range[0]), float(mean_range[1])
        means = lo + (hi - lo) / (pop_dim - 1) * torch.arange(pop_dim, dtype=torch.float32)
        self.mean = nn.Parameter(means.expand(1, obs_dim, pop_dim).clone())
        self.std = nn.Parameter(torch.full((1, obs_dim, pop_dim), float(std)))
        self.neurons = IFEncoderNeuron(backend=backend) if mode == "pop-det" else None

    def receptive_fields(self, obs: torch.Tensor) -> torch.Tensor:
        if obs.dim() != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"observations must be [B, obs_dim={self.obs_dim}], got {tuple(obs.shape)}")
        o = obs.unsqueeze(-1)
        return torch.exp(-0.5 * (o - self.mean).pow(2) / self.std.pow(2)).view(obs.shape[0], -1)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        a = self.receptive_fields(obs)
        seq = a.unsqueeze(0).expand(self.spike_ts, *a.shape)
        if self.mode == "pop-raw":
            return seq
        if self.mode == "pop-det":
            return self.neurons(seq)
        spikes = torch.bernoulli(seq.detach())
        return spikes + (seq - seq.detach())  # forward: the sample; backward: straight through

    def extra_repr(self) -> str:
        return f"obs_dim={self.obs_dim}, pop_dim={self.pop_dim}, spike_ts={self.spike_ts}, mode={self.mode}"


class PopDecoder(nn.Module):
    """[T, B, act_dim * pop_dim] spikes -> [B, act_dim].

    Per action group a Conv1d(A, A, pop_dim, groups=A) (one learnable weighting of the group's
    neurons) applied to each step's spikes, then the non-spiking IF decode (`decode`:
    last-mem, max-mem, max-abs-mem, mean-mem). decode="fr-mlp" applies the conv to the mean
    firing rate instead (PopSAN).
    """

    def __init__(self, act_dim, pop_dim, spike_ts, decode="last-mem"):
        super().__init__()
        self.act_dim, self.pop_dim, self.spike_ts = int(act_dim), int(pop_dim), int(spike_ts)
        mode = decode.replace("_", "-") if isinstance(decode, str) else decode
        if mode not in DECODE_MODES:
            raise ValueError(f"unknown decode {decode!r}; choose one of {list(DECODE_MODES)}")
        self.decode = mode
        self.integrator = None if mode == "fr-mlp" else NonSpikingIF(mode)
        # A Conv1d holds the parameters (and its initialisation, as the peer's); the grouped
        # kernel-size-P convolution is a per-group dot product, computed below directly.
        self.conv = nn.Conv1d(self.act_dim, self.act_dim, self.pop_dim, groups=self.act_dim)

    def _group_dot(self, s: torch.Tensor) -> torch.Tensor:
        w = self.conv.weight.view(self.act_dim, self.pop_dim)
        return (s * w).sum(dim=-1) + self.conv.bias

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        if spikes.dim() != 3 or spikes.shape[2] != self.act_dim * self.pop_dim:
            raise ValueError(f"PopDecoder expects [T, B, act_dim*pop_dim={self.act_dim * self.pop_dim}], "
                             f"got {tuple(spikes.shape)}")
        groups = spikes.view(spikes.shape[0], spikes.shape[1], self.act_dim, self.pop_dim)
        if self.integrator is None:
            return self._group_dot(groups.mean(dim=0))
        return self.integrator(self._group_dot(groups))

    def extra_repr(self) -> str:
        return f"act_dim={self.act_dim}, pop_dim={self.pop_dim}, spike_ts={self.spike_ts}, decode={self.decode}"
