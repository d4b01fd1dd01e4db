"""Population coding (NEURONS.md §6, seed 001): learnable Gaussian receptive-field encoder
and the per-action population decoder."""
from __future__ import annotations

import math

import torch
from torch import nn

from ..ops import DECODES
from .neurons import IFEncoderNeuron, NonSpikingIF
from .seeds import check_seeds, seed_shape

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

    seeds=K (spikekern.nn.seeds): K seeds' fields, mean and std [K, 1, obs_dim, pop_dim];
    [B, K, obs_dim] -> [T, B, K, obs_dim * pop_dim].
    """

    def __init__(self, obs_dim, pop_dim, spike_ts, mean_range, std, mode="pop-det", backend=None, seeds=None):
        super().__init__()
        if mode not in ENCODE_MODES:
            raise ValueError(f"unknown encoder mode {mode!r}; choose one of {list(ENCODE_MODES)}")
        if pop_dim < 2:
            raise ValueError(f"pop_dim must be >= 2 to space the means over mean_range, got {pop_dim}")
        self.obs_dim, self.pop_dim, self.spike_ts, self.mode = int(obs_dim), int(pop_dim), int(spike_ts), mode
        self.seeds = check_seeds(seeds)
        lo, hi = float(mean_range[0]), float(mean_range[1])
        means = lo + (hi - lo) / (pop_dim - 1) * torch.arange(pop_dim, dtype=torch.float32)
        shape = (*seed_shape(self.seeds), 1, obs_dim, pop_dim)
        self.mean = nn.Parameter(means.expand(shape).clone())
        self.std = nn.Parameter(torch.full(shape, float(std)))
        self.neurons = IFEncoderNeuron(backend=backend) if mode == "pop-det" else None

    def receptive_fields(self, obs: torch.Tensor) -> torch.Tensor:
        seeds = seed_shape(self.seeds)
        if obs.dim() != 2 + len(seeds) or tuple(obs.shape[1:]) != (*seeds, self.obs_dim):
            raise ValueError(f"observations must be [B, {''.join(f'{k}, ' for k in seeds)}obs_dim={self.obs_dim}], "
                             f"got {tuple(obs.shape)}")
        o = obs.unsqueeze(-1)
        # A seed's fields [1, obs, pop] broadcast over the batch; K seeds' [K, obs, pop] over it too.
        mean, std = (p.view(*seeds, self.obs_dim, self.pop_dim) for p in (self.mean, self.std))
        z = -0.5 * (o - mean).pow(2) / std.pow(2)
        # Most fields are far from a given observation (z of -100s): exp's vectorised kernel
        # takes a slow path when its results underflow (7 to 15x on an AVX2 CPU), so those
        # fields are set to 0 directly. They would be < 3.2e-38 (float32), below anything
        # the encoder's neurons or the gradients can resolve.
        floor = _exp_floor(z.dtype)
        return (torch.exp(z.clamp(min=floor)) * (z >= floor)).view(*obs.shape[:-1], -1)

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
        seeds = "" if self.seeds is None else f", seeds={self.seeds}"
        return f"obs_dim={self.obs_dim}, pop_dim={self.pop_dim}, spike_ts={self.spike_ts}, mode={self.mode}{seeds}"


def _exp_floor(dtype: torch.dtype) -> float:
    """The z below which exp(z) is taken as 0: one above the log of the smallest normal
    number (at the log itself rounding can still give a subnormal result)."""
    return math.log(torch.finfo(dtype).tiny) + 1.0


class PopDecoder(nn.Module):
    """[T, B, act_dim * pop_dim] spikes -> [B, act_dim].

    Per action group a Conv1d(A, A, pop_dim, groups=A) (one learnable weighting of the group's
    neurons) applied to each step's spikes, then the non-spiking IF decode (`decode`:
    last-mem, max-mem, max-abs-mem, mean-mem). decode="fr-mlp" applies the conv to the mean
    firing rate instead (PopSAN).

    seeds=K (spikekern.nn.seeds): K seeds' weightings, conv.weight [K, A, 1, P] and conv.bias
    [K, A]; [T, B, K, A*P] -> [B, K, A].
    """

    def __init__(self, act_dim, pop_dim, spike_ts, decode="last-mem", seeds=None):
        super().__init__()
        self.act_dim, self.pop_dim, self.spike_ts = int(act_dim), int(pop_dim), int(spike_ts)
        self.seeds = check_seeds(seeds)
        mode = decode.replace("_", "-") if isinstance(decode, str) else decode
        if mode not in DECODE_MODES:
            raise ValueError(f"unknown decode {decode!r}; choose one of {list(DECODE_MODES)}")
        self.decode = mode
        self.integrator = None if mode == "fr-mlp" else NonSpikingIF(mode)
        # A Conv1d holds the parameters (and its initialisation, as the peer's); the grouped
        # kernel-size-P convolution is a per-group dot product, computed below directly.
        convs = [nn.Conv1d(self.act_dim, self.act_dim, self.pop_dim, groups=self.act_dim)
                 for _ in range(self.seeds or 1)]
        # K seeds: each seed's copy initialised as the conv initialises itself, under the conv's names.
        self.conv = convs[0] if self.seeds is None else _Params(
            weight=torch.stack([c.weight.detach() for c in convs]), bias=torch.stack([c.bias.detach() for c in convs]))

    def _group_dot(self, s: torch.Tensor) -> torch.Tensor:
        seeds = seed_shape(self.seeds)
        w = self.conv.weight.view(*seeds, self.act_dim, self.pop_dim)
        return (s * w).sum(dim=-1) + self.conv.bias

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        seeds = seed_shape(self.seeds)
        width = self.act_dim * self.pop_dim
        if spikes.dim() != 3 + len(seeds) or tuple(spikes.shape[2:]) != (*seeds, width):
            raise ValueError(f"PopDecoder expects [T, B, {''.join(f'{k}, ' for k in seeds)}act_dim*pop_dim={width}], "
                             f"got {tuple(spikes.shape)}")
        groups = spikes.view(*spikes.shape[:-1], self.act_dim, self.pop_dim)
        if self.integrator is None:
            return self._group_dot(groups.mean(dim=0))
        return self.integrator(self._group_dot(groups))

    def extra_repr(self) -> str:
        seeds = "" if self.seeds is None else f", seeds={self.seeds}"
        return f"act_dim={self.act_dim}, pop_dim={self.pop_dim}, spike_ts={self.spike_ts}, decode={self.decode}{seeds}"


class _Params(nn.Module):
    """Named parameters and nothing else: K seeds' copies of a layer's parameters under the
    layer's own names (conv.weight, conv.bias), so a seed's state dict is the single model's."""

    def __init__(self, **params: torch.Tensor):
        super().__init__()
        for name, value in params.items():
            setattr(self, name, nn.Parameter(value.clone()))
