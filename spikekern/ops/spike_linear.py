"""spike_linear: a linear layer whose input is spikes (NEURONS.md §8).

`spike_linear(s, weight, bias)` equals `torch.nn.functional.linear(s, weight, bias)` for s
holding only 0 and 1. On the CPU (backend "cpp") its forward and weight gradient skip the
zeros (a sum of the weight columns where s spiked) below a measured density and use the
dense product above it; on a GPU (backend "cuda") the product is dense. It has no Triton
kernel: backend "triton" runs the C++ op of s's device ("cpp" or "cuda"), so models built
with backend="triton" run; where that op is missing (a build without CUDA kernels on a GPU),
it runs torch.nn.functional.linear, with one warning. Either way what is saved for the backward is s packed 8 spikes per byte,
not s itself. The input gradient is the dense dy @ W: the surrogate gradient needs it at
every input.

Spikes are checked only in checking mode (`set_spike_check(True)`, or SPIKEKERN_CHECK_SPIKES=1
in the environment; the test suite runs with it): then an entry that is neither 0 nor 1 is an
error. In normal mode nothing is checked, and a non-binary s silently gives a wrong product:
below the dense crossover the CPU op sums the weight columns wherever s is nonzero (as if
every nonzero were 1), above it the values are multiplied. On the CPU the check costs nothing
measurable (it is part of the packing pass); on a GPU it costs a device-to-host
synchronisation per call.
"""
from __future__ import annotations

import os
import warnings

import torch
import torch.nn.functional as F

from .. import _backend
from .validation import check_same

_check = {"on": os.environ.get("SPIKEKERN_CHECK_SPIKES", "") == "1"}
_warned: set[str] = set()  # device types warned about (a Triton-only install)


def set_spike_check(on: bool) -> bool:
    """Checking mode of spike_linear (see the module's doc); returns the previous setting."""
    before = _check["on"]
    _check["on"] = bool(on)
    return before


def _validate(s, weight, bias) -> None:
    for name, t in (("s", s), ("weight", weight)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise TypeError(f"spike_linear: {name} must be a floating tensor, got "
                            f"{t.dtype if isinstance(t, torch.Tensor) else type(t).__name__}")
    check_same(s, weight, "weight")
    if weight.dim() != 2:
        raise ValueError(f"spike_linear: weight must be [out, in], got {tuple(weight.shape)}")
    if s.dim() < 1 or s.shape[-1] != weight.shape[1]:
        raise ValueError(f"spike_linear: s must be [..., in={weight.shape[1]}], got {tuple(s.shape)}")
    if bias is not None:
        check_same(s, bias, "bias")
        if tuple(bias.shape) != (weight.shape[0],):
            raise ValueError(f"spike_linear: bias must be [out={weight.shape[0]}], got {tuple(bias.shape)}")


def spike_linear(s, weight, bias=None, *, backend="auto"):
    """s @ weight.T + bias for spikes s in {0, 1} ([..., in] -> [..., out], any float dtype)."""
    _validate(s, weight, bias)
    name = _backend.resolve(backend, s.device)
    if name == "reference":
        if _check["on"] and ((s != 0) & (s != 1)).any():
            raise ValueError("spike_linear: s holds entries that are neither 0 nor 1 (spikes must be exactly 0 or 1)")
        return F.linear(s, weight, bias)
    if name == "triton":  # no Triton kernel of its own: the C++ op of s's device ("cpp" or "cuda")
        cxx = "cuda" if s.device.type == "cuda" else "cpp"
        why = _backend.why_unavailable(cxx, s.device)
        if why is not None:  # a Triton-only install: the dense product the C++ op would compute
            if s.device.type not in _warned:
                _warned.add(s.device.type)
                warnings.warn(f"spike_linear: backend 'triton' has no kernel of its own and the C++ op ({cxx!r}) is "
                              f"not available ({why}); running torch.nn.functional.linear, which keeps the input "
                              "itself for the backward instead of its bits", stacklevel=2)
            return F.linear(s, weight, bias)
    return torch.ops.spikekern.spike_linear_forward(s, weight, bias, _check["on"])[0]


def dense_from(out_features: int) -> float:
    """The density (fraction of ones) from which the CPU op runs the dense product, for a
    layer of `out_features` outputs (SPIKEKERN_SPIKE_DENSE overrides it)."""
    return float(torch.ops.spikekern.spike_linear_dense_from(int(out_features)))
