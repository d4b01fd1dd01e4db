"""The public functional neurons: lif, cuba_lif, ilc_cuba_lif, plif, clif, nonspiking_if.

Each validates its input, resolves the backend and calls either the reference loop or the
fused op. Signatures are the fixed public API (API.md); semantics are NEURONS.md.
"""
from __future__ import annotations

import torch

from .. import _backend
from ..backends import reference
from . import fake_kernels  # noqa: F401  (registers the fused ops' fake kernels)
from . import surrogate as _surrogate
from .validation import (acc_dtype, as_v_init, check_clif_tau, check_decay, check_parameter, check_same, check_sequence, check_threshold,
                         lif_coefficients)


# What spikekern.ops exports from here (a new neuron's function joins this list).
__all__ = ["lif", "cuba_lif", "ilc_cuba_lif", "plif", "clif", "nonspiking_if", "DECODES"]


def _needs_grad(*tensors) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def _fused(name: str, op: str):
    """The fused op for a concrete backend name ("cpp"/"cuda" share the C++ op)."""
    if name == "triton":
        from ..backends import triton_backend

        return getattr(triton_backend, op)
    return getattr(torch.ops.spikekern, op)


def lif(x, tau=2.0, *, decay_input=True, v_threshold=1.0, v_reset=0.0, detach_reset=False,
        surrogate="sigmoid", alpha=None, v_init=None, return_v=False, backend="auto"):
    """Multi-step LIF (every flavour of NEURONS.md §1) on x [T, *].

    Returns spikes [T, *] in x's dtype, or (spikes, v_seq) with return_v=True.
    IF neuron: tau=float("inf"), decay_input=False. v_reset=None: soft reset.
    """
    check_sequence(x)
    code, alpha = _surrogate.resolve(surrogate, alpha)
    v_th, v_reset = check_threshold(v_threshold, v_reset)
    a, b, c = lif_coefficients(tau, decay_input, v_reset)
    v_init = as_v_init(v_init, x)
    name = _backend.resolve(backend, x.device)
    if name == "reference":
        return reference.lif(x, a, b, c, v_th, v_reset, detach_reset, code, alpha, v_init, return_v)
    s, _, v = _fused(name, "lif_forward")(
        x, v_init, a, b, c, v_th, 0.0 if v_reset is None else v_reset, v_reset is None,
        bool(detach_reset), code, alpha, _needs_grad(x, v_init), bool(return_v),
    )
    return (s, v) if return_v else s


def cuba_lif(x, *, c_decay=0.5, v_decay=0.75, v_threshold=0.5, v_reset=0.0, detach_reset=False,
             surrogate="rect", alpha=None, return_v=False, backend="auto"):
    """Multi-step current-based LIF (NEURONS.md §2) on x [T, *]."""
    check_sequence(x)
    code, alpha = _surrogate.resolve(surrogate, alpha)
    c_decay, v_decay = check_decay(c_decay, "c_decay"), check_decay(v_decay, "v_decay")
    v_th, v_reset = check_threshold(v_threshold, v_reset)
    name = _backend.resolve(backend, x.device)
    if name == "reference":
        return reference.cuba_lif(x, c_decay, v_decay, v_th, v_reset, detach_reset, code, alpha, return_v)
    s, _, v = _fused(name, "cuba_lif_forward")(
        x, c_decay, v_decay, v_th, 0.0 if v_reset is None else v_reset, v_reset is None,
        bool(detach_reset), code, alpha, _needs_grad(x), bool(return_v),
    )
    return (s, v) if return_v else s


def _check_ilc_params(x, weight, bias) -> None:
    check_same(x, weight, "weight")
    check_same(x, bias, "bias")
    if weight.dim() != 3 or weight.shape[1] != weight.shape[2]:
        raise ValueError(f"weight must be [A, P, P] (one P x P matrix per group), got {tuple(weight.shape)}")
    A, P = weight.shape[0], weight.shape[1]
    if tuple(bias.shape) != (A, P):
        raise ValueError(f"bias must be [A, P] = {(A, P)}, got {tuple(bias.shape)}")
    if x.shape[-1] != A * P:
        raise ValueError(
            f"x's last dimension must be A*P = {A}*{P} = {A * P} (groups x population), got {x.shape[-1]}"
        )


def ilc_cuba_lif(x, weight, bias, *, c_decay=0.5, v_decay=0.75, v_threshold=0.5, v_reset=0.0,
                 detach_reset=False, surrogate="rect", alpha=None, backend="auto"):
    """CUBA-LIF with intra-layer connections (NEURONS.md §3).

    x: [T, *, A*P]; weight: [A, P, P] (group g's lateral input is weight[g] @ s_g);
    bias: [A, P]. A grouped Conv1d(A, A*P, P, groups=A) maps as
    weight = conv.weight.view(A, P, P), bias = conv.bias.view(A, P).
    """
    check_sequence(x, min_dim=2)
    _check_ilc_params(x, weight, bias)
    code, alpha = _surrogate.resolve(surrogate, alpha)
    c_decay, v_decay = check_decay(c_decay, "c_decay"), check_decay(v_decay, "v_decay")
    v_th, v_reset = check_threshold(v_threshold, v_reset)
    name = _backend.resolve(backend, x.device)
    if name == "reference":
        return reference.ilc_cuba_lif(x, weight, bias, c_decay, v_decay, v_th, v_reset, detach_reset, code, alpha)
    s, _ = _fused(name, "ilc_cuba_lif_forward")(
        x, weight, bias, c_decay, v_decay, v_th, 0.0 if v_reset is None else v_reset,
        v_reset is None, bool(detach_reset), code, alpha, _needs_grad(x, weight, bias),
    )
    return s


def plif(x, w, *, decay_input=True, v_threshold=1.0, v_reset=0.0, detach_reset=False, surrogate="sigmoid",
         alpha=None, return_v=False, backend="auto"):
    """Multi-step parametric LIF (NEURONS.md §10) on x [T, *]: 1/tau = sigmoid(w), w a
    one-element tensor (spikekern.nn.PLIF owns it), whose gradient the fused backward computes."""
    check_sequence(x)
    check_parameter(x, w, "w")
    code, alpha = _surrogate.resolve(surrogate, alpha)
    v_th, v_reset = check_threshold(v_threshold, v_reset)
    name = _backend.resolve(backend, x.device)
    if name == "reference":
        return reference.plif(x, w, bool(decay_input), v_th, v_reset, detach_reset, code, alpha, return_v)
    # q in the kernels' accumulation dtype, by torch's own sigmoid: the reference's q, bit for bit.
    q = torch.sigmoid(w.to(acc_dtype(x.dtype)))
    s, _, v = _fused(name, "plif_forward")(
        x, q, v_th, 0.0 if v_reset is None else v_reset, v_reset is None, bool(decay_input),
        bool(detach_reset), code, alpha, _needs_grad(x, w), bool(return_v),
    )
    return (s, v) if return_v else s


def clif(x, tau=2.0, *, v_threshold=1.0, surrogate="rect", alpha=None, backend="auto"):
    """Multi-step complementary LIF (NEURONS.md §9, SpikingJelly's ComplementaryLIFNode) on x [T, *]:
    a second state m per neuron enters the soft reset. Returns the spikes [T, *]."""
    check_sequence(x)
    code, alpha = _surrogate.resolve(surrogate, alpha)
    tau = check_clif_tau(tau)
    v_th, _ = check_threshold(v_threshold, None)
    name = _backend.resolve(backend, x.device)
    if name == "reference":
        return reference.clif(x, tau, v_th, code, alpha)
    s, _, _ = _fused(name, "clif_forward")(x, tau, v_th, code, alpha, _needs_grad(x))
    return s


DECODES = ("last-mem", "max-mem", "max-abs-mem", "mean-mem")


def nonspiking_if(x, decode="last-mem"):
    """Non-spiking IF decoder (NEURONS.md §4): v[t] = v[t-1] + x[t]; [T, *] -> [*].

    decode: "last-mem", "max-mem", "max-abs-mem" or "mean-mem" ("_" spellings accepted).
    """
    check_sequence(x)
    mode = decode.replace("_", "-") if isinstance(decode, str) else decode
    if mode not in DECODES:
        raise ValueError(f"unknown decode {decode!r}; choose one of {list(DECODES)}")
    if mode == "last-mem":  # v[T-1] is the plain sum: one op instead of a cumsum
        return x.sum(dim=0)
    v = torch.cumsum(x, dim=0)
    if mode == "mean-mem":
        return v.mean(dim=0)
    vmax = v.max(dim=0).values
    if mode == "max-mem":
        return vmax
    vmin = v.min(dim=0).values
    return torch.where(vmax.abs() > vmin.abs(), vmax, vmin)
