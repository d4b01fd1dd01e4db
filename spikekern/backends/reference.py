"""Reference neurons: plain PyTorch loops over time, written straight from NEURONS.md.

This is the ground truth every fused backend is tested against, and the "Python loop"
that benchmarks compare with. Gradients come from autograd through `SpikeFn`.
Float16/bfloat16 inputs are computed in float32, like the kernels. Each expression keeps
the order of operations the kernels use, so float32 potentials agree bit for bit.
"""
from __future__ import annotations

import torch

from .spike_fn import SpikeFn


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _fire_reset(h, v_th, v_reset, detach_reset, code, alpha):
    s = SpikeFn.apply(h - v_th, code, alpha)
    sr = s.detach() if detach_reset else s
    v = h - v_th * sr if v_reset is None else h * (1.0 - sr) + v_reset * sr
    return s, v


def lif(x, a, b, c, v_th, v_reset, detach_reset, code, alpha, v_init=None, return_v=False):
    """h[t] = (a v[t-1] + b x[t]) + c; fire; reset. v_reset=None: soft reset."""
    xc = x.to(_compute_dtype(x))
    if v_init is None:
        v = torch.full_like(xc[0], 0.0 if v_reset is None else v_reset)
    else:
        v = v_init.to(xc.dtype).expand_as(xc[0])
    spikes, vs = [], []
    for t in range(xc.shape[0]):
        h = a * v + b * xc[t]
        h = h + c
        s, v = _fire_reset(h, v_th, v_reset, detach_reset, code, alpha)
        spikes.append(s)
        vs.append(v)
    s = torch.stack(spikes).to(x.dtype)
    return (s, torch.stack(vs).to(x.dtype)) if return_v else s


def cuba_lif(x, c_decay, v_decay, v_th, v_reset, detach_reset, code, alpha, return_v=False):
    """cur[t] = c_decay cur[t-1] + x[t]; h[t] = v_decay v[t-1] + cur[t]; fire; reset."""
    xc = x.to(_compute_dtype(x))
    cur = torch.zeros_like(xc[0])
    v = torch.full_like(xc[0], 0.0 if v_reset is None else v_reset)
    spikes, vs = [], []
    for t in range(xc.shape[0]):
        cur = c_decay * cur + xc[t]
        h = v_decay * v + cur
        s, v = _fire_reset(h, v_th, v_reset, detach_reset, code, alpha)
        spikes.append(s)
        vs.append(v)
    s = torch.stack(spikes).to(x.dtype)
    return (s, torch.stack(vs).to(x.dtype)) if return_v else s


def ilc_cuba_lif(x, weight, bias, c_decay, v_decay, v_th, v_reset, detach_reset, code, alpha):
    """CUBA-LIF whose input gets x'[t] = x[t] + (W_g s_g[t-1] + b_g) for t >= 1 (per group)."""
    A, P, _ = weight.shape
    dt = _compute_dtype(x)
    xc = x.to(dt)
    W, B = weight.to(dt), bias.to(dt)
    group_shape = xc.shape[1:-1] + (A, P)
    cur = torch.zeros(group_shape, dtype=dt, device=x.device)
    v = torch.full_like(cur, 0.0 if v_reset is None else v_reset)
    s = None
    spikes = []
    for t in range(xc.shape[0]):
        xt = xc[t].reshape(group_shape)
        if s is not None:
            lateral = torch.einsum("...gq,gpq->...gp", s, W)
            xt = xt + (lateral + B)
        cur = c_decay * cur + xt
        h = v_decay * v + cur
        s, v = _fire_reset(h, v_th, v_reset, detach_reset, code, alpha)
        spikes.append(s.reshape(xc.shape[1:]))
    return torch.stack(spikes).to(x.dtype)


def clif(x, tau, v_th, code, alpha, return_states=False):
    """Complementary LIF (NEURONS.md §9): h[t] = (v[t-1] - v[t-1]/tau) + x[t];
    m[t] = m[t-1] sigmoid(h[t]/tau) + s[t]; v[t] = h[t] - s[t] (v_th + sigmoid(m[t]))."""
    xc = x.to(_compute_dtype(x))
    v = torch.zeros_like(xc[0])
    m = torch.zeros_like(xc[0])
    spikes, vs, ms = [], [], []
    for t in range(xc.shape[0]):
        h = (v - v / tau) + xc[t]
        decayed = m * torch.sigmoid(h / tau)
        s = SpikeFn.apply(h - v_th, code, alpha)
        m = decayed + s
        v = h - s * (v_th + torch.sigmoid(m))
        spikes.append(s)
        vs.append(v)
        ms.append(m)
    s = torch.stack(spikes).to(x.dtype)
    return (s, torch.stack(vs).to(x.dtype), torch.stack(ms).to(x.dtype)) if return_states else s


def plif(x, w, decay_input, v_th, v_reset, detach_reset, code, alpha, return_v=False):
    """Parametric LIF (NEURONS.md §10): q = sigmoid(w) (1/tau, learned);
    decay_input: h[t] = v[t-1] + (x[t] - (v[t-1] - v_r)) q, else h[t] = (v[t-1] - (v[t-1] - v_r) q) + x[t]
    (v_r = v_reset, 0 for a soft reset); fire; reset. The gradient of w comes from autograd."""
    dt = _compute_dtype(x)
    xc = x.to(dt)
    q = torch.sigmoid(w.to(dt))
    v_r = 0.0 if v_reset is None else v_reset
    v = torch.full_like(xc[0], v_r)
    spikes, vs = [], []
    for t in range(xc.shape[0]):
        h = v + (xc[t] - (v - v_r)) * q if decay_input else v - (v - v_r) * q + xc[t]
        s, v = _fire_reset(h, v_th, v_reset, detach_reset, code, alpha)
        spikes.append(s)
        vs.append(v)
    s = torch.stack(spikes).to(x.dtype)
    return (s, torch.stack(vs).to(x.dtype)) if return_v else s
