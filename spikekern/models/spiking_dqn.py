"""Spiking Q-networks: SpikingDQN (PL-SDQN, seed 000) for Atari frames and SpikingMLPQNet
for state-observation environments."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..nn import LIF, PopNorm

# The Spiking-DQN example's neuron: BrainCog LIFNode with threshold 1.0, tau 2, QGate(2),
# hard reset to 0 with the reset detached.
DQN_THRESHOLD = 1.0
DQN_TAU = 2.0


def _dqn_neuron(backend):
    return LIF.braincog(threshold=DQN_THRESHOLD, tau=DQN_TAU, backend=backend)


def _conv_out(size: int, kernel: int, stride: int) -> int:
    return (size - kernel) // stride + 1


class SpikingDQN(nn.Module):
    """obs [B, c, h, w] -> Q [B, n_actions].

    Conv(c,32,8,4)-PopNorm-LIF, Conv(32,64,4,2)-PopNorm-LIF, Conv(64,64,3,1)-PopNorm-LIF,
    Flatten, Linear(.,512)-LIF, Linear(512, n_actions, no bias); Q = mean over the time
    window of the last layer. popnorm=False gives the vanilla spiking DQN.

    The same frame stack enters at every step, so the first conv (and its PopNorm) is
    computed once and broadcast over T: exactly equal to running it T times, T times cheaper.
    uint8 frames are divided by 255; float input is used as given.
    """

    def __init__(self, c: int, h: int, w: int, action_shape, time_window: int = 16, popnorm: bool = True,
                 backend=None):
        super().__init__()
        self.c, self.h, self.w, self.time_window = int(c), int(h), int(w), int(time_window)
        n_actions = int(np.prod(action_shape))
        h1, w1 = _conv_out(h, 8, 4), _conv_out(w, 8, 4)
        h2, w2 = _conv_out(h1, 4, 2), _conv_out(w1, 4, 2)
        h3, w3 = _conv_out(h2, 3, 1), _conv_out(w2, 3, 1)
        if min(h3, w3) < 1:
            raise ValueError(f"frames of {h}x{w} are too small for the DQN convolutions")

        def norm(shape):
            return PopNorm(shape, v_threshold=DQN_THRESHOLD, v_reset=0.0) if popnorm else nn.Identity()

        self.conv1, self.norm1, self.lif1 = nn.Conv2d(c, 32, 8, 4), norm([32, h1, w1]), _dqn_neuron(backend)
        self.conv2, self.norm2, self.lif2 = nn.Conv2d(32, 64, 4, 2), norm([64, h2, w2]), _dqn_neuron(backend)
        self.conv3, self.norm3, self.lif3 = nn.Conv2d(64, 64, 3, 1), norm([64, h3, w3]), _dqn_neuron(backend)
        self.output_dim = 64 * h3 * w3
        self.fc1, self.lif4 = nn.Linear(self.output_dim, 512), _dqn_neuron(backend)
        self.fc2 = nn.Linear(512, n_actions, bias=False)

    def _frames(self, obs: torch.Tensor) -> torch.Tensor:
        if obs.dim() != 4 or tuple(obs.shape[1:]) != (self.c, self.h, self.w):
            raise ValueError(f"SpikingDQN expects frames [B, {self.c}, {self.h}, {self.w}], got {tuple(obs.shape)}")
        if obs.dtype == torch.uint8:
            return obs.to(self.conv1.weight.dtype) / 255.0
        return obs

    def _conv_step(self, conv, norm, spikes: torch.Tensor) -> torch.Tensor:
        """conv + norm of every step at once: [T, B, C, H, W] -> [T, B, C', H', W']."""
        T, B = spikes.shape[:2]
        y = conv(spikes.flatten(0, 1))
        return norm(y.view(T, B, *y.shape[1:]))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = self._frames(obs)
        first = self.norm1(self.conv1(x))                                   # once, not T times
        s = self.lif1(first.unsqueeze(0).expand(self.time_window, *first.shape))
        s = self.lif2(self._conv_step(self.conv2, self.norm2, s))
        s = self.lif3(self._conv_step(self.conv3, self.norm3, s))
        s = self.lif4(self.fc1(s.flatten(2)))                                # one matmul over T*B
        return self.fc2(s).mean(dim=0)


class SpikingMLPQNet(nn.Module):
    """obs [B, obs_dim] -> Q [B, n_actions]: [Linear-(PopNorm)-LIF] x hidden, Linear(no bias),
    mean over the time window; the Spiking-DQN neurons. popnorm=True normalises each layer's
    synaptic input as PL-SDQN does. The observation is the same at every step, so the first
    Linear (and its PopNorm) is computed once and broadcast over T."""

    def __init__(self, obs_dim: int, n_actions: int, hidden_sizes: Sequence[int] = (256, 256),
                 time_window: int = 8, backend=None, popnorm: bool = False):
        super().__init__()
        self.obs_dim, self.time_window = int(obs_dim), int(time_window)
        sizes = [self.obs_dim, *hidden_sizes]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.norms = nn.ModuleList(
            PopNorm([h], v_threshold=DQN_THRESHOLD, v_reset=0.0) if popnorm else nn.Identity() for h in hidden_sizes)
        self.neurons = nn.ModuleList(_dqn_neuron(backend) for _ in hidden_sizes)
        self.head = nn.Linear(sizes[-1], int(n_actions), bias=False)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if obs.dim() != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"SpikingMLPQNet expects observations [B, {self.obs_dim}], got {tuple(obs.shape)}")
        y = self.norms[0](self.layers[0](obs.to(self.layers[0].weight.dtype)))
        s = self.neurons[0](y.unsqueeze(0).expand(self.time_window, *y.shape))
        for layer, norm, neuron in zip(self.layers[1:], self.norms[1:], self.neurons[1:]):
            s = neuron(norm(layer(s)))
        return self.head(s).mean(dim=0)


class AtariQNet(nn.Module):
    """The non-spiking DQN of the comparison (Nature DQN): same convolutions, ReLU."""

    def __init__(self, c: int, h: int, w: int, action_shape):
        super().__init__()
        self.c, self.h, self.w = int(c), int(h), int(w)
        h3 = _conv_out(_conv_out(_conv_out(h, 8, 4), 4, 2), 3, 1)
        w3 = _conv_out(_conv_out(_conv_out(w, 8, 4), 4, 2), 3, 1)
        self.net = nn.Sequential(
            nn.Conv2d(c, 32, 8, 4), nn.ReLU(), nn.Conv2d(32, 64, 4, 2), nn.ReLU(), nn.Conv2d(64, 64, 3, 1), nn.ReLU(),
            nn.Flatten(), nn.Linear(64 * h3 * w3, 512), nn.ReLU(), nn.Linear(512, int(np.prod(action_shape))))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if obs.dim() != 4 or tuple(obs.shape[1:]) != (self.c, self.h, self.w):
            raise ValueError(f"AtariQNet expects frames [B, {self.c}, {self.h}, {self.w}], got {tuple(obs.shape)}")
        x = obs.to(self.net[0].weight.dtype) / 255.0 if obs.dtype == torch.uint8 else obs
        return self.net(x)


class MLPQNet(nn.Module):
    """The non-spiking Q-network for state observations: ReLU MLP."""

    def __init__(self, obs_dim: int, n_actions: int, hidden_sizes: Sequence[int] = (256, 256)):
        super().__init__()
        from .actors import mlp

        self.obs_dim = int(obs_dim)
        self.q = mlp([obs_dim, *hidden_sizes, n_actions])

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if obs.dim() != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"MLPQNet expects observations [B, {self.obs_dim}], got {tuple(obs.shape)}")
        return self.q(obs.to(self.q[0].weight.dtype))
