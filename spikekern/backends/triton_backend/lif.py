"""Triton kernels for LIF (NEURONS.md §1): h[t] = (a v[t-1] + b x[t]) + c; fire; reset.

One program walks all T steps for BLOCK neurons with the state in registers; loads and
stores are coalesced across neurons. Params p = [a, b, c, v_th, v_reset, v0, alpha].
"""
import triton
import triton.language as tl

from .common import fire, grad_h, reset


@triton.jit
def lif_fwd_kernel(x_ptr, vinit_ptr, p_ptr, s_ptr, h_ptr, v_ptr, T, N,
                   HAS_VINIT: tl.constexpr, SOFT: tl.constexpr, SAVE_H: tl.constexpr,
                   SAVE_V: tl.constexpr, RECOMPUTE_ONLY: tl.constexpr, BLOCK: tl.constexpr):
    """Forward; with RECOMPUTE_ONLY it writes only h (backward's first pass in recompute mode)."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    a, b, c = tl.load(p_ptr), tl.load(p_ptr + 1), tl.load(p_ptr + 2)
    v_th, v_reset, v0 = tl.load(p_ptr + 3), tl.load(p_ptr + 4), tl.load(p_ptr + 5)
    if HAS_VINIT:
        v = tl.load(vinit_ptr + offs, mask=mask, other=0.0).to(v0.dtype)
    else:
        v = tl.zeros([BLOCK], v0.dtype) + v0
    xp, sp, hp, vp = x_ptr + offs, s_ptr + offs, h_ptr + offs, v_ptr + offs
    for _ in range(T):
        x = tl.load(xp, mask=mask, other=0.0).to(v0.dtype)
        h = a * v + b * x
        h = h + c
        s = fire(h, v_th)
        v = reset(h, s, v_th, v_reset, SOFT)
        if not RECOMPUTE_ONLY:
            tl.store(sp, s.to(s_ptr.dtype.element_ty), mask=mask)
        if SAVE_H:
            tl.store(hp, h.to(h_ptr.dtype.element_ty), mask=mask)
        if SAVE_V:
            tl.store(vp, v.to(v_ptr.dtype.element_ty), mask=mask)
        xp += N
        sp += N
        hp += N
        vp += N


@triton.jit
def lif_bwd_kernel(gs_ptr, gv_ptr, h_ptr, p_ptr, gx_ptr, gvi_ptr, T, N, last,
                   KIND: tl.constexpr, SOFT: tl.constexpr, DETACH: tl.constexpr,
                   HAS_GV: tl.constexpr, NEED_GVI: tl.constexpr, BLOCK: tl.constexpr):
    """Reverse time from t = T-1 (element offset `last` = (T-1)*N). h may alias gx (recompute
    mode, float32): each step reads h[t] before it writes gx[t]."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    a, b = tl.load(p_ptr), tl.load(p_ptr + 1)
    v_th, v_reset, alpha = tl.load(p_ptr + 3), tl.load(p_ptr + 4), tl.load(p_ptr + 6)
    g = tl.zeros([BLOCK], a.dtype)  # dL/dh[t+1]
    gsp, gvp, hp, gxp = gs_ptr + last + offs, gv_ptr + last + offs, h_ptr + last + offs, gx_ptr + last + offs
    for _ in range(T):
        h = tl.load(hp, mask=mask, other=0.0).to(a.dtype)
        gs = tl.load(gsp, mask=mask, other=0.0).to(a.dtype)
        through_v = a * g
        if HAS_GV:
            through_v = tl.load(gvp, mask=mask, other=0.0).to(a.dtype) + through_v
        g = grad_h(h, gs, through_v, v_th, v_reset, alpha, KIND, SOFT, DETACH)
        tl.store(gxp, (b * g).to(gx_ptr.dtype.element_ty), mask=mask)
        gsp -= N
        gvp -= N
        hp -= N
        gxp -= N
    if NEED_GVI:
        tl.store(gvi_ptr + offs, a * g, mask=mask)
