"""Input checks shared by every op: one clear error per kind of bad input."""
from __future__ import annotations

import math

import torch

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def acc_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the kernels accumulate in (and save h in) for inputs of `dtype`: float64 for
    float64, float32 for everything else (docs/NEURONS.md, its opening paragraph)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def check_sequence(x, name: str = "x", min_dim: int = 1) -> None:
    """x must be a floating tensor [T, *] with T >= 1."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float16, bfloat16, float32 or float64, got {x.dtype}")
    if x.dim() < min_dim:
        shape = "[T, *]" if min_dim == 1 else "[T, *, features]"
        raise ValueError(f"{name} must have shape {shape} (at least {min_dim} dims), got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} has T = 0 time steps; at least one is needed")


def check_same(x: torch.Tensor, other: torch.Tensor, name: str) -> None:
    """`other` (a parameter tensor) must live on x's device and have x's dtype."""
    if not isinstance(other, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(other).__name__}")
    if other.device != x.device:
        raise ValueError(f"{name} is on {other.device} but x is on {x.device}")
    if other.dtype != x.dtype:
        raise TypeError(f"{name} has dtype {other.dtype} but x has {x.dtype}; they must match")


def check_parameter(x: torch.Tensor, w, name: str) -> None:
    """A neuron's learned scalar (PLIF's w): a one-element floating tensor on x's device."""
    if not isinstance(w, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (the learned parameter), got {type(w).__name__}")
    if w.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be a floating tensor, got {w.dtype}")
    if w.numel() != 1:
        raise ValueError(f"{name} must hold one value, got shape {tuple(w.shape)}")
    if w.device != x.device:
        raise ValueError(f"{name} is on {w.device} but x is on {x.device}")


def lif_coefficients(tau: float, decay_input: bool, v_reset: float | None) -> tuple[float, float, float]:
    """(a, b, c) of h = a v + b x + c for a SpikingJelly-style LIF (NEURONS.md §1)."""
    tau = float(tau)
    if math.isnan(tau) or tau < 1.0:
        raise ValueError(f"tau must be >= 1 (or inf for an IF neuron), got {tau}")
    if math.isinf(tau):
        if decay_input:
            raise ValueError("tau=inf is the IF neuron; it needs decay_input=False")
        return 1.0, 1.0, 0.0
    a = 1.0 - 1.0 / tau
    b = 1.0 / tau if decay_input else 1.0
    c = 0.0 if v_reset is None else v_reset / tau
    return a, b, c


def check_clif_tau(tau) -> float:
    """CLIF's time constant: finite and >= 1 (its decay 1 - 1/tau in [0, 1))."""
    tau = float(tau)
    if not (math.isfinite(tau) and tau >= 1.0):
        raise ValueError(f"CLIF's tau must be finite and >= 1, got {tau}")
    return tau


def check_threshold(v_threshold: float, v_reset: float | None) -> tuple[float, float | None]:
    """(v_threshold, v_reset) as floats, both finite, with v_threshold above what a spike
    resets to: above v_reset for a hard reset (else a reset neuron fires again at once), above
    0 for a soft reset (which subtracts v_threshold)."""
    v_th = float(v_threshold)
    if not math.isfinite(v_th):
        raise ValueError(f"v_threshold must be finite, got {v_th}")
    if v_reset is None:
        if not v_th > 0.0:
            raise ValueError(f"with a soft reset (v_reset=None) v_threshold must be > 0, got {v_th}")
        return v_th, None
    v_reset = float(v_reset)
    if not math.isfinite(v_reset):
        raise ValueError(f"v_reset must be finite (or None for a soft reset), got {v_reset}")
    if not v_th > v_reset:
        raise ValueError(f"v_threshold ({v_th}) must be above v_reset ({v_reset}): a neuron reset to v_reset "
                         "would fire again at once")
    return v_th, v_reset


def check_decay(value: float, name: str) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


def as_v_init(v_init, x: torch.Tensor) -> torch.Tensor | None:
    """None, a number, or a tensor broadcastable to x.shape[1:] -> None or that expanded tensor."""
    if v_init is None:
        return None
    if not isinstance(v_init, torch.Tensor):
        return torch.full(x.shape[1:], float(v_init), dtype=x.dtype, device=x.device)
    check_same(x, v_init, "v_init")
    try:
        return v_init.expand(x.shape[1:])
    except RuntimeError:
        raise ValueError(
            f"v_init of shape {tuple(v_init.shape)} does not broadcast to x.shape[1:] = {tuple(x.shape[1:])}"
        ) from None
