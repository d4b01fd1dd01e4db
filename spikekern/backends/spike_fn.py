"""The spike of the reference loops: Θ(u) forward, the surrogate derivative psi(u) of
NEURONS.md §5 backward, by kernel code (the table of names and codes is
spikekern/ops/surrogate.py)."""
from __future__ import annotations

import math

import torch


def psi(u: torch.Tensor, code: int, alpha: float) -> torch.Tensor:
    """Surrogate derivative sigma'(u), written straight from the table."""
    if code == 0:  # qgate
        au = u.abs()
        return torch.where(au <= 1.0 / alpha, alpha - alpha * alpha * au, torch.zeros_like(u))
    if code == 1:  # rect
        return torch.where(u.abs() < 0.5 / alpha, torch.full_like(u, alpha), torch.zeros_like(u))
    if code == 2:  # sigmoid
        sg = torch.sigmoid(alpha * u)
        return alpha * sg * (1.0 - sg)
    if code == 3:  # atan
        return (alpha / 2.0) / (1.0 + (math.pi / 2.0 * alpha * u) ** 2)
    if code == 4:  # deterministic pass
        return torch.ones_like(u)
    raise ValueError(f"unknown surrogate code {code}")


class SpikeFn(torch.autograd.Function):
    """Θ(u) forward, psi(u) backward: the spike of the reference loops."""

    @staticmethod
    def forward(ctx, u: torch.Tensor, code: int, alpha: float) -> torch.Tensor:
        ctx.save_for_backward(u)
        ctx.code, ctx.alpha = code, alpha
        return (u >= 0).to(u.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (u,) = ctx.saved_tensors
        return grad * psi(u, ctx.code, ctx.alpha), None, None
