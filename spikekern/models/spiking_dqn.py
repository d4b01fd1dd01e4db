"""Spiking Q-networks: SpikingDQN (PL-SDQN, seed 000) for Atari frames and SpikingMLPQNet
for state-observation environments."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..nn import LIF, PopNorm
from ..nn.linear import conv2d, linear
from ..nn.seeds import check_seeds, seed_shape

# The Spiking-DQN example's neuron: BrainCog LIFNode with threshold 1.0, tau 2, QGate(2),
# hard reset to 0 with the reset detached.
DQN_THRESHOLD = 1.0
DQN_TAU = 2.0


def _dqn_neuron(backend):
    return LIF.braincog(threshold=DQN_THRESHOLD, tau=DQN_TAU, backend=backend)


def _conv_out(size: int, kernel: int, stride: int) -> int:
    return (size - kernel) // stride + 1


def _check_vector(obs: torch.Tensor, obs_dim: int, seeds, name: str) -> None:
    shape = (*seed_shape(seeds), obs_dim)
    if obs.dim() != 1 + len(shape) or tuple(obs.shape[1:]) != shape:
        raise ValueError(f"{name} expects observations [B, {', '.join(map(str, shape))}], got {tuple(obs.shape)}")


class SpikingDQN(nn.Module):
    """obs [B, c, h, w] -> Q [B, n_actions].

    Conv(c,32,8,4)-PopNorm-LIF, Conv(32,64,4,2)-PopNorm-LIF, Conv(64,64,3,1)-PopNorm-LIF,
    Flatten, Linear(.,512)-LIF, Linear(512, n_actions, no bias); Q = mean over the time
    window of the last layer. popnorm=False gives the vanilla spiking DQN.

    The same frame stack enters at every step, so the first conv (and its PopNorm) is
    computed once and broadcast over T: exactly equal to running it T times, T times cheaper.
    uint8 frames are divided by 255; float input is used as given. seeds=K: K networks
    (spikekern.nn.seeds), [B, K, c, h, w] -> [B, K, n_actions].
    """

    def __init__(self, c: int, h: int, w: int, action_shape, time_window: int = 16, popnorm: bool = True,
                 backend=None, seeds=None):
        super().__init__()
        self.c, self.h, self.w, self.time_window = int(c), int(h), int(w), int(time_window)
        self.seeds = check_seeds(seeds)
        n_actions = int(np.prod(action_shape))
        h1, w1 = _conv_out(h, 8, 4), _conv_out(w, 8, 4)
        h2, w2 = _conv_out(h1, 4, 2), _conv_out(w1, 4, 2)
        h3, w3 = _conv_out(h2, 3, 1), _conv_out(w2, 3, 1)
        if min(h3, w3) < 1:
            raise ValueError(f"frames of {h}x{w} are too small for the DQN convolutions")

        def norm(shape):
            return PopNorm(shape, v_threshold=DQN_THRESHOLD, v_reset=0.0, seeds=seeds) if popnorm else nn.Identity()

        self.conv1, self.norm1, self.lif1 = conv2d(c, 32, 8, 4, seeds), norm([32, h1, w1]), _dqn_neuron(backend)
        self.conv2, self.norm2, self.lif2 = conv2d(32, 64, 4, 2, seeds), norm([64, h2, w2]), _dqn_neuron(backend)
        self.conv3, self.norm3, self.lif3 = conv2d(64, 64, 3, 1, seeds), norm([64, h3, w3]), _dqn_neuron(backend)
        self.output_dim = 64 * h3 * w3
        self.fc1, self.lif4 = linear(self.output_dim, 512, seeds, spikes=True, backend=backend), _dqn_neuron(backend)
        self.fc2 = linear(512, n_actions, seeds, bias=False, spikes=True, backend=backend)

    def _frames(self, obs: torch.Tensor) -> torch.Tensor:
        shape = (*seed_shape(self.seeds), self.c, self.h, self.w)
        if obs.dim() != 1 + len(shape) or tuple(obs.shape[1:]) != shape:
            raise ValueError(f"SpikingDQN expects frames [B, {', '.join(map(str, shape))}], got {tuple(obs.shape)}")
        if obs.dtype == torch.uint8:
            return obs.to(self.conv1.weight.dtype) / 255.0
        return obs

    def _conv_step(self, conv, norm, spikes: torch.Tensor) -> torch.Tensor:
        """conv + norm of every step at once: [T, B, (K,) C, H, W] -> [T, B, (K,) C', H', W']."""
        T, B = spikes.shape[:2]
        y = conv(spikes.flatten(0, 1))
        return norm(y.view(T, B, *y.shape[1:]))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = self._frames(obs)
        first = self.norm1(self.conv1(x))                                   # once, not T times
        s = self.lif1(first.unsqueeze(0).expand(self.time_window, *first.shape))
        s = self.lif2(self._conv_step(self.conv2, self.norm2, s))
        s = self.lif3(self._conv_step(self.conv3, self.norm3, s))
        s = self.lif4(self.fc1(s.flatten(-3)))                               # one matmul over T*B
        return self.fc2(s).mean(dim=0)


class SpikingMLPQNet(nn.Module):
    """obs [B, obs_dim] -> Q [B, n_actions]: [Linear-(PopNorm)-LIF] x hidden, Linear(no bias),
    mean over the time window; the Spiking-DQN neurons. popnorm=True normalises each layer's
    synaptic input as PL-SDQN does. The observation is the same at every step, so the first
    Linear (and its PopNorm) is computed once and broadcast over T. seeds=K: K networks,
    [B, K, obs_dim] -> [B, K, n_actions]."""

    def __init__(self, obs_dim: int, n_actions: int, hidden_sizes: Sequence[int] = (256, 256),
                 time_window: int = 8, backend=None, popnorm: bool = False, seeds=None):
        super().__init__()
        self.obs_dim, self.time_window, self.seeds = int(obs_dim), int(time_window), check_seeds(seeds)
        sizes = [self.obs_dim, *hidden_sizes]
        self.layers = nn.ModuleList(linear(a, b, seeds, spikes=i > 0, backend=backend)  # after the first: spikes
                                    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])))
        self.norms = nn.ModuleList(PopNorm([h], v_threshold=DQN_THRESHOLD, v_reset=0.0, seeds=seeds) if popnorm
                                   else nn.Identity() for h in hidden_sizes)
        self.neurons = nn.ModuleList(_dqn_neuron(backend) for _ in hidden_sizes)
        self.head = linear(sizes[-1], int(n_actions), seeds, bias=False, spikes=True, backend=backend)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        _check_vector(obs, self.obs_dim, self.seeds, "SpikingMLPQNet")
        y = self.norms[0](self.layers[0](obs.to(self.layers[0].weight.dtype)))
        s = self.neurons[0](y.unsqueeze(0).expand(self.time_window, *y.shape))
        for layer, norm, neuron in zip(self.layers[1:], self.norms[1:], self.neurons[1:]):
            s = neuron(norm(layer(s)))
        return self.head(s).mean(dim=0)


class AtariQNet(nn.Module):
    """The non-spiking DQN of the comparison (Nature DQN): same convolutions, ReLU. seeds=K:
    K networks, [B, K, c, h, w] -> [B, K, n_actions]."""

    def __init__(self, c: int, h: int, w: int, action_shape, seeds=None):
        super().__init__()
        self.c, self.h, self.w, self.seeds = int(c), int(h), int(w), check_seeds(seeds)
        h3 = _conv_out(_conv_out(_conv_out(h, 8, 4), 4, 2), 3, 1)
        w3 = _conv_out(_conv_out(_conv_out(w, 8, 4), 4, 2), 3, 1)
        self.net = nn.Sequential(
            conv2d(c, 32, 8, 4, seeds), nn.ReLU(), conv2d(32, 64, 4, 2, seeds), nn.ReLU(),
            conv2d(64, 64, 3, 1, seeds), nn.ReLU(), nn.Flatten(-3), linear(64 * h3 * w3, 512, seeds), nn.ReLU(),
            linear(512, int(np.prod(action_shape)), seeds))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        shape = (*seed_shape(self.seeds), self.c, self.h, self.w)
        if obs.dim() != 1 + len(shape) or tuple(obs.shape[1:]) != shape:
            raise ValueError(f"AtariQNet expects frames [B, {', '.join(map(str, shape))}], got {tuple(obs.shape)}")
        x = obs.to(self.net[0].weight.dtype) / 255.0 if obs.dtype == torch.uint8 else obs
        return self.net(x)


class MLPQNet(nn.Module):
    """The non-spiking Q-network for state observations: ReLU MLP. seeds=K: K networks,
    [B, K, obs_dim] -> [B, K, n_actions]."""

    def __init__(self, obs_dim: int, n_actions: int, hidden_sizes: Sequence[int] = (256, 256), seeds=None):
        super().__init__()
        from .actors import mlp

        self.obs_dim, self.seeds = int(obs_dim), check_seeds(seeds)
        self.q = mlp([obs_dim, *hidden_sizes, n_actions], seeds=seeds)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        _check_vector(obs, self.obs_dim, self.seeds, "MLPQNet")
        return self.q(obs.to(self.q[0].weight.dtype))
