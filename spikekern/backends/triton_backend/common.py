"""Neuron math shared by the Triton kernels: the same equations as csrc/spikekern/
neuron_math.h (NEURONS.md), as @triton.jit helpers with compile-time flags."""
from __future__ import annotations

import functools

import torch
import triton
from torch._subclasses.fake_tensor import is_fake
import triton.language as tl

from ...ops.validation import acc_dtype

# Neurons per program for the elementwise (LIF, CUBA) kernels.
BLOCK = 1024


@functools.lru_cache(maxsize=256)
def _cached_params(values: tuple, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype, device=device)


def params(values: tuple, like: torch.Tensor) -> torch.Tensor:
    """Neuron parameters as a small tensor in the accumulation dtype of `like`. Triton types
    Python floats as float32, so float64 neurons read theirs from here. Cached so repeated
    calls do not copy to the device again; not while tracing with fake tensors, whose
    tensors must not outlive the trace."""
    dtype = acc_dtype(like.dtype)
    if is_fake(like):
        return torch.tensor(values, dtype=dtype, device=like.device)
    return _cached_params(values, dtype, like.device)


def neuron_params(k: tuple, v_th, v_reset, soft: bool, alpha, like: torch.Tensor) -> torch.Tensor:
    """The kernels' parameter vector [k0, k1, k2, v_th, v_reset, v_start, alpha]: the neuron's
    coefficients k (padded to three), then what load_fire_params reads."""
    k = tuple(k) + (0.0,) * (3 - len(k))
    return params(k + (v_th, v_reset, 0.0 if soft else v_reset, alpha), like)


@triton.jit
def load_fire_params(p_ptr):
    """(v_th, v_reset, v_start, alpha) from a neuron_params vector."""
    return tl.load(p_ptr + 3), tl.load(p_ptr + 4), tl.load(p_ptr + 5), tl.load(p_ptr + 6)


# The neurons' charge and input-gradient steps (neuron_math.h: lif_charge, cuba_charge,
# lif_input_grad, cuba_input_grad), in the same order of operations.
@triton.jit
def lif_charge(a, b, c, v, x):
    """h = (a v + b x) + c."""
    h = a * v + b * x
    return h + c


@triton.jit
def cuba_charge(c_decay, v_decay, cur, v, x):
    """cur' = c_decay cur + x; h = v_decay v + cur'. Returns (h, cur')."""
    cur = c_decay * cur + x
    return v_decay * v + cur, cur


@triton.jit
def plif_charge(q, v_r, v, x, DECAY_INPUT: tl.constexpr):
    """PLIF: h = v + (x - (v - v_r)) q, or (v - (v - v_r) q) + x without decay_input."""
    if DECAY_INPUT:
        h = v + (x - (v - v_r)) * q
    else:
        leak = v - (v - v_r) * q
        h = leak + x
    return h


@triton.jit
def plif_param_grad(h, v, v_r, DECAY_INPUT: tl.constexpr):
    """PLIF's dh[t]/dq from h[t] and v[t-1] (neuron_math.h: param_grad): with decay_input
    h[t] - v[t-1], which is q dh[t]/dq (plif_param_block divides the block's sum by q), else
    -(v[t-1] - v_r)."""
    if DECAY_INPUT:
        g = h - v
    else:
        g = -(v - v_r)
    return g


@triton.jit
def plif_param_block(total, q, DECAY_INPUT: tl.constexpr):
    """One program's partial dL/dq from its sum of gh * plif_param_grad (neuron_math.h:
    param_block): divided by q with decay_input, 0 where q underflowed to 0 (h = v there, so
    every term is 0)."""
    if DECAY_INPUT:
        total = tl.where(q != 0.0, total / q, 0.0)
    return total


@triton.jit
def lif_input_grad(b, gh):
    """dL/dx[t] = b dL/dh[t]."""
    return b * gh


@triton.jit
def cuba_input_grad(c_decay, gh, gcur):
    """dL/dcur[t] = dL/dh[t] + c_decay dL/dcur[t+1] (= dL/dx[t])."""
    return gh + c_decay * gcur


@triton.jit
def logistic(z):
    """1 / (1 + e^-z) (neuron_math.h: logistic)."""
    return 1.0 / (1.0 + tl.exp(-z))


@triton.jit
def clif_step(tau, v_th, v, m, x):
    """One CLIF step (neuron_math.h: clif_step). Returns (h, s, v', m')."""
    h = (v - v / tau) + x
    d = logistic(h / tau).to(h.dtype)
    s = fire(h, v_th)
    m = m * d + s
    v = h - s * (v_th + logistic(m).to(h.dtype))
    return h, s, v, m


@triton.jit
def clif_grad_step(tau, v_th, alpha, h, m_t, m_prev, gs, gv, gm, KIND: tl.constexpr):
    """One CLIF reverse step (neuron_math.h: clif_grad_step), gv = dL/dv[t]. Returns (dL/dh[t], dL/dm[t-1])."""
    u = h - v_th
    s = tl.where(u >= 0.0, 1.0, 0.0).to(h.dtype)
    psi = surrogate_grad(u, alpha, KIND)
    inv_tau = 1.0 / tau
    d = logistic(h * inv_tau).to(h.dtype)
    sm = logistic(m_t).to(h.dtype)
    gm_t = gm - gv * s * (sm * (1.0 - sm))
    gs_t = (gs + gm_t) - gv * (v_th + sm)
    gh = (gv + gs_t * psi) + gm_t * m_prev * (d * (1.0 - d) * inv_tau)
    return gh, gm_t * d


@triton.jit
def surrogate_grad(u, alpha, KIND: tl.constexpr):
    """psi(u) of NEURONS.md §5: 0 qgate, 1 rect, 2 sigmoid, 3 atan, 4 pass."""
    if KIND == 0:
        au = tl.abs(u)
        r = tl.where(au <= 1.0 / alpha, alpha - alpha * alpha * au, 0.0)
    elif KIND == 1:
        r = tl.where(tl.abs(u) < 0.5 / alpha, alpha, 0.0)
    elif KIND == 2:
        sg = 1.0 / (1.0 + tl.exp(-alpha * u))
        r = alpha * sg * (1.0 - sg)
    elif KIND == 3:
        z = 1.5707963267948966 * alpha * u
        r = (alpha / 2.0) / (1.0 + z * z)
    else:
        r = u * 0.0 + 1.0
    return r.to(u.dtype)


@triton.jit
def fire(h, v_th):
    return tl.where(h - v_th >= 0.0, 1.0, 0.0).to(h.dtype)


@triton.jit
def reset(h, s, v_th, v_reset, SOFT: tl.constexpr):
    if SOFT:
        v = tl.where(s != 0.0, h - v_th, h)
    else:
        v = tl.where(s != 0.0, v_reset, h)
    return v.to(h.dtype)


@triton.jit
def grad_h(h, gs, g_through_v, v_th, v_reset, alpha, KIND: tl.constexpr, SOFT: tl.constexpr,
           DETACH: tl.constexpr):
    """dL/dh[t] = gs psi + (gv[t] + decay dL/dh[t+1]) dv/dh (g_through_v is the bracket)."""
    u = h - v_th
    psi = surrogate_grad(u, alpha, KIND)
    s = tl.where(u >= 0.0, 1.0, 0.0).to(h.dtype)
    if SOFT:
        if DETACH:
            dvdh = s * 0.0 + 1.0
        else:
            dvdh = 1.0 - v_th * psi
    else:
        if DETACH:
            dvdh = 1.0 - s
        else:
            dvdh = (1.0 - s) + (v_reset - h) * psi
    return gs * psi + g_through_v * dvdh
