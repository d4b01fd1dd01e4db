"""Using the neurons in one's own models: ordinary layers over multi-step input, and one call
that resets every stateful neuron of a network."""
from __future__ import annotations

import torch
from torch import nn


class SeqToANN(nn.Module):
    """Runs ordinary (single-step) layers over multi-step input [T, B, ...] by folding time into
    the batch: [T*B, ...] through the layers, then back to [T, B, ...]. One call over T*B
    samples instead of T calls. Layers that mix samples (BatchNorm in training mode) then see
    the statistics of all T*B samples, as SpikingJelly's SeqToANNContainer does.

        SeqToANN(nn.Conv2d(2, 16, 3), nn.BatchNorm2d(16))   # several layers run in sequence
    """

    def __init__(self, *layers: nn.Module):
        super().__init__()
        if not layers:
            raise ValueError("SeqToANN needs at least one layer")
        self.module = layers[0] if len(layers) == 1 else nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() < 2:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"SeqToANN expects multi-step input [T, B, ...], got {shape}")
        T, B = x.shape[:2]
        y = self.module(x.flatten(0, 1))
        return y.view(T, B, *y.shape[1:])


def reset(model: nn.Module) -> int:
    """Resets the state of every neuron in `model` that carries state across calls (for
    example `LIF(stateful=True)`), like SpikingJelly's `functional.reset_net`: calls
    `reset()` on every submodule that has one. Returns how many were reset."""
    count = 0
    for m in model.modules():
        fn = getattr(m, "reset", None)
        if callable(fn):
            fn()
            count += 1
    return count
