"""Triton kernels for CUBA-LIF (NEURONS.md §2):
cur[t] = c_decay cur[t-1] + x[t]; h[t] = v_decay v[t-1] + cur[t]; fire; reset.
Params p = [c_decay, v_decay, v_th, v_reset, v_start, alpha]."""
import triton
import triton.language as tl

from .common import fire, grad_h, reset


@triton.jit
def cuba_fwd_kernel(x_ptr, p_ptr, s_ptr, h_ptr, v_ptr, T, N, SOFT: tl.constexpr,
                    SAVE_H: tl.constexpr, SAVE_V: tl.constexpr, RECOMPUTE_ONLY: tl.constexpr,
                    BLOCK: tl.constexpr):
    """Forward; with RECOMPUTE_ONLY it writes only h (backward's first pass in recompute mode)."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    cd, vd, v_th = tl.load(p_ptr), tl.load(p_ptr + 1), tl.load(p_ptr + 2)
    v_reset, v_start = tl.load(p_ptr + 3), tl.load(p_ptr + 4)
    cur = tl.zeros([BLOCK], cd.dtype)
    v = cur + v_start
    xp, sp, hp, vp = x_ptr + offs, s_ptr + offs, h_ptr + offs, v_ptr + offs
    for _ in range(T):
        cur = cd * cur + tl.load(xp, mask=mask, other=0.0).to(cd.dtype)
        h = vd * v + cur
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
def cuba_bwd_kernel(gs_ptr, gv_ptr, h_ptr, p_ptr, gx_ptr, T, N, last, KIND: tl.constexpr,
                    SOFT: tl.constexpr, DETACH: tl.constexpr, HAS_GV: tl.constexpr,
                    BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    cd, vd, v_th = tl.load(p_ptr), tl.load(p_ptr + 1), tl.load(p_ptr + 2)
    v_reset, alpha = tl.load(p_ptr + 3), tl.load(p_ptr + 5)
    gh_next = tl.zeros([BLOCK], cd.dtype)
    gcur = tl.zeros([BLOCK], cd.dtype)
    gsp, gvp, hp, gxp = gs_ptr + last + offs, gv_ptr + last + offs, h_ptr + last + offs, gx_ptr + last + offs
    for _ in range(T):
        h = tl.load(hp, mask=mask, other=0.0).to(cd.dtype)
        gs = tl.load(gsp, mask=mask, other=0.0).to(cd.dtype)
        through_v = vd * gh_next
        if HAS_GV:
            through_v = tl.load(gvp, mask=mask, other=0.0).to(cd.dtype) + through_v
        gh_next = grad_h(h, gs, through_v, v_th, v_reset, alpha, KIND, SOFT, DETACH)
        gcur = gh_next + cd * gcur
        tl.store(gxp, gcur.to(gx_ptr.dtype.element_ty), mask=mask)
        gsp -= N
        gvp -= N
        hp -= N
        gxp -= N
