"""Linear and convolution layers as the models build them: one model or K seeds
(spikekern.nn.seeds), and for input known to be spikes, spikekern.ops.spike_linear.

SpikeLinear is nn.Linear (same parameters, same state dict) whose forward is spike_linear:
the models use it on layers fed by spiking neurons and at least 128 outputs wide, where the
sparse kernels beat the dense product at the spike densities measured in training
(docs/benchmarks.md, "spike_linear"); narrower layers stay nn.Linear. With backend
"reference" it is the plain product.
"""
from __future__ import annotations

import torch
from torch import nn

from .. import ops
from .neurons import _check_backend, _op_backend
from .seeds import SeedConv2d, SeedLinear

# Layers fed by spikes use spike_linear from this many outputs (narrower ones stay dense).
SPIKE_LINEAR_MIN_OUT = 128


def spike_input_linear(x: torch.Tensor, weight: torch.Tensor, bias, backend) -> torch.Tensor:
    return ops.spike_linear(x, weight, bias, backend=_op_backend(backend, x))


class SpikeLinear(nn.Linear):
    """nn.Linear over spike input [..., in] (values 0 or 1), computed by spike_linear."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, backend: str | None = None):
        super().__init__(in_features, out_features, bias=bias)
        self.backend = _check_backend(backend)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return spike_input_linear(x, self.weight, self.bias, self.backend)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", backend={self.backend or 'default'}"


def linear(in_features: int, out_features: int, seeds: int | None, bias: bool = True, spikes: bool = False,
           backend: str | None = None) -> nn.Module:
    """nn.Linear, or SeedLinear when seeds is given; spikes=True (input from spiking neurons):
    spike_linear where the layer is wide enough to gain (SPIKE_LINEAR_MIN_OUT)."""
    spikes = spikes and out_features >= SPIKE_LINEAR_MIN_OUT
    if seeds is not None:
        return SeedLinear(in_features, out_features, seeds, bias=bias, spikes=spikes, backend=backend)
    if spikes:
        return SpikeLinear(in_features, out_features, bias=bias, backend=backend)
    return nn.Linear(in_features, out_features, bias=bias)


def conv2d(in_channels: int, out_channels: int, kernel_size: int, stride: int, seeds: int | None) -> nn.Module:
    """nn.Conv2d, or SeedConv2d when seeds is given."""
    if seeds is None:
        return nn.Conv2d(in_channels, out_channels, kernel_size, stride)
    return SeedConv2d(in_channels, out_channels, kernel_size, stride, seeds=seeds)
