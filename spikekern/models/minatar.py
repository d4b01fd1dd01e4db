"""Q-networks for MinAtar (10x10 Atari games, observations [10, 10, C] of booleans).

MinAtarQNet is the MinAtar paper's DQN network: Conv2d(C, 16, 3, stride 1) - ReLU -
Linear(1024, 128) - ReLU - Linear(128, actions). SpikingMinAtarQNet is the same layers with
the Spiking-DQN neurons: PopNorm + LIF after the convolution and after the hidden linear
(PL-SDQN), or LIF alone (popnorm=False, the vanilla spiking DQN); Q is the mean over the
time window of the last layer.
"""
from __future__ import annotations

import torch
from torch import nn

from ..nn import PopNorm
from ..nn.linear import conv2d, linear
from ..nn.seeds import check_seeds, seed_shape
from .spiking_dqn import DQN_THRESHOLD, _dqn_neuron

GRID = 10                    # MinAtar boards are 10 x 10
CONV_OUT = GRID - 2          # a 3x3 convolution with stride 1 and no padding
HIDDEN = 128


def _channels_first(obs: torch.Tensor, c: int, weight: torch.Tensor, name: str, seeds=None) -> torch.Tensor:
    """[B, 10, 10, C] (bool or float) -> [B, C, 10, 10] in the weights' dtype (K seeds:
    [B, K, 10, 10, C] -> [B, K, C, 10, 10])."""
    lead = seed_shape(seeds)
    if obs.dim() != 4 + len(lead) or tuple(obs.shape[1:]) != (*lead, GRID, GRID, c):
        raise ValueError(f"{name} expects MinAtar observations [B, {''.join(f'{k}, ' for k in lead)}{GRID}, {GRID}, "
                         f"{c}], got {tuple(obs.shape)}")
    return obs.movedim(-1, -3).to(weight.dtype)


class MinAtarQNet(nn.Module):
    """The MinAtar DQN network: obs [B, 10, 10, C] -> Q [B, n_actions]. seeds=K: K networks
    (spikekern.nn.seeds), [B, K, 10, 10, C] -> [B, K, n_actions]."""

    def __init__(self, c: int, n_actions: int, seeds=None):
        super().__init__()
        self.c, self.seeds = int(c), check_seeds(seeds)
        self.conv = conv2d(self.c, 16, 3, 1, seeds)
        self.fc = linear(16 * CONV_OUT * CONV_OUT, HIDDEN, seeds)
        self.head = linear(HIDDEN, int(n_actions), seeds)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv(_channels_first(obs, self.c, self.conv.weight, "MinAtarQNet", self.seeds)))
        return self.head(torch.relu(self.fc(x.flatten(-3))))


class SpikingMinAtarQNet(nn.Module):
    """The MinAtar network with spiking neurons: obs [B, 10, 10, C] -> Q [B, n_actions].

    The observation is the same at every step, so the convolution (and its PopNorm) is
    computed once and broadcast over the time window, as in SpikingDQN.
    """

    def __init__(self, c: int, n_actions: int, time_window: int = 4, popnorm: bool = True, backend=None,
                 seeds=None):
        super().__init__()
        self.c, self.time_window, self.seeds = int(c), int(time_window), check_seeds(seeds)
        if self.time_window < 1:
            raise ValueError(f"time_window must be at least 1, got {time_window}")

        def norm(shape):
            return PopNorm(shape, v_threshold=DQN_THRESHOLD, v_reset=0.0, seeds=seeds) if popnorm else nn.Identity()

        self.conv, self.norm1, self.lif1 = conv2d(self.c, 16, 3, 1, seeds), norm([16, CONV_OUT, CONV_OUT]), \
            _dqn_neuron(backend)
        self.fc, self.norm2, self.lif2 = linear(16 * CONV_OUT * CONV_OUT, HIDDEN, seeds, spikes=True,
                                                backend=backend), norm([HIDDEN]), _dqn_neuron(backend)
        self.head = linear(HIDDEN, int(n_actions), seeds, spikes=True, backend=backend)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = _channels_first(obs, self.c, self.conv.weight, "SpikingMinAtarQNet", self.seeds)
        first = self.norm1(self.conv(x))
        s = self.lif1(first.unsqueeze(0).expand(self.time_window, *first.shape))   # [T, B, (K,) 16, 8, 8]
        s = self.lif2(self.norm2(self.fc(s.flatten(-3))))                          # one matmul over T*B
        return self.head(s).mean(dim=0)
