"""PopNorm (NEURONS.md §7, PL-SDQN): layer norm of the synaptic input of a LIF layer."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PopNorm(nn.Module):
    """`layer_norm` over the trailing `normalized_shape` ([C, H, W]) of every sample and time
    step, with a per-element affine initialised to weight = v_threshold - v_reset and
    bias = v_reset, so normalised inputs start on the scale of the neuron's threshold."""

    def __init__(self, normalized_shape, v_threshold=1.0, v_reset=0.0, eps=1e-5):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(d) for d in normalized_shape)
        self.v_threshold, self.v_reset, self.eps = float(v_threshold), float(v_reset), float(eps)
        self.weight = nn.Parameter(torch.empty(self.normalized_shape))
        self.bias = nn.Parameter(torch.empty(self.normalized_shape))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.constant_(self.weight, self.v_threshold - self.v_reset)
        nn.init.constant_(self.bias, self.v_reset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-len(self.normalized_shape):]) != self.normalized_shape:
            raise ValueError(f"PopNorm over {self.normalized_shape} got input of shape {tuple(x.shape)}")
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, v_threshold={self.v_threshold}, v_reset={self.v_reset}"
