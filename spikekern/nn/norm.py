"""PopNorm (NEURONS.md §7, PL-SDQN): layer norm of the synaptic input of a LIF layer."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .seeds import check_seeds, one_seed, seed_shape


class PopNorm(nn.Module):
    """`layer_norm` over the trailing `normalized_shape` ([C, H, W]) of every sample and time
    step, with a per-element affine initialised to weight = v_threshold - v_reset and
    bias = v_reset, so normalised inputs start on the scale of the neuron's threshold.

    seeds=K (spikekern.nn.seeds): K seeds' affines, weight and bias [K, *normalized_shape];
    input [..., K, *normalized_shape]."""

    def __init__(self, normalized_shape, v_threshold=1.0, v_reset=0.0, eps=1e-5, seeds=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(d) for d in normalized_shape)
        self.v_threshold, self.v_reset, self.eps = float(v_threshold), float(v_reset), float(eps)
        self.seeds = check_seeds(seeds)
        shape = (*seed_shape(self.seeds), *self.normalized_shape)
        self.weight = nn.Parameter(torch.empty(shape))
        self.bias = nn.Parameter(torch.empty(shape))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.constant_(self.weight, self.v_threshold - self.v_reset)
        nn.init.constant_(self.bias, self.v_reset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (*seed_shape(self.seeds), *self.normalized_shape)
        if tuple(x.shape[-len(shape):]) != shape:
            raise ValueError(f"PopNorm over {shape} got input of shape {tuple(x.shape)}")
        if self.seeds is None:
            return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        if self.seeds == 1:  # the single layer's own call: the same bits
            return F.layer_norm(x, self.normalized_shape, one_seed(self.weight), one_seed(self.bias), self.eps)
        return torch.addcmul(self.bias, F.layer_norm(x, self.normalized_shape, None, None, self.eps), self.weight)

    def extra_repr(self) -> str:
        seeds = "" if self.seeds is None else f", seeds={self.seeds}"
        return f"{self.normalized_shape}, v_threshold={self.v_threshold}, v_reset={self.v_reset}{seeds}"
