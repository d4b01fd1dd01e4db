"""The surrogate table of NEURONS.md §5: names, codes shared with the C++/CUDA/Triton
kernels, default alphas, and psi(u) in PyTorch for the reference loops."""
from __future__ import annotations

import math

import torch

# name -> (code used by the compiled kernels, default alpha)
SURROGATES: dict[str, tuple[int, float]] = {
    "qgate": (0, 2.0),
    "rect": (1, 1.0),
    "sigmoid": (2, 4.0),
    "atan": (3, 2.0),
    "pass": (4, 1.0),
}


def resolve(name: str, alpha: float | None) -> tuple[int, float]:
    """(kernel code, alpha) for a surrogate name; alpha=None means its default."""
    if not isinstance(name, str) or name not in SURROGATES:
        raise ValueError(f"unknown surrogate {name!r}; choose one of {sorted(SURROGATES)}")
    code, default = SURROGATES[name]
    alpha = default if alpha is None else float(alpha)
    if not alpha > 0 or math.isinf(alpha):
        raise ValueError(f"surrogate alpha must be a positive finite number, got {alpha}")
    return code, alpha


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
