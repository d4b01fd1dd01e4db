"""Triton kernels for LIF, CUBA-LIF, PLIF and CLIF (NEURONS.md §1-2, §9-10): one time loop written once over the
neuron, as csrc/cuda/lif_cuba_kernels.cu does with templates. NEURON (compile time) picks the charge
and the input gradient from common.py; everything else (fire, reset, surrogate, the loads
and stores) is shared.

One program walks all T steps for BLOCK neurons with the state in registers; loads and
stores are coalesced across neurons. Params p = [k0, k1, k2, v_th, v_reset, v_start, alpha]
(common.neuron_params): LIF k = (a, b, c), CUBA-LIF k = (c_decay, v_decay, unused), PLIF
none: its q (1/tau, learned) is a tensor of its own at q_ptr, and v_r is v_start. PLIF's backward
writes one partial dL/dq per program (summed by the op in program order); v[t-1]'s part of
dh[t]/dq is added one step later, from the h[t-1] loaded then.
CLIF (k = (tau, unused, unused)), whose second state m enters the reset, brings its own step
and reverse step (common.clif_step, clif_grad_step; neuron_math.h: ClifNeuron): its cur is m,
which the forward saves at c_ptr beside h and the backward reads back (m[t] and m[t-1]).
"""
import triton
import triton.language as tl

from .common import (clif_grad_step, clif_step, cuba_charge, cuba_input_grad, fire, grad_h, lif_charge,
                     lif_input_grad, load_fire_params, plif_charge, plif_param_block, plif_param_grad, reset)

# NEURON, a compile-time argument of forward_steps / backward_steps: 0 LIF, 1 CUBA-LIF,
# 2 PLIF with decay_input, 3 PLIF without, 4 CLIF.


@triton.jit
def forward_steps(x_ptr, vinit_ptr, p_ptr, q_ptr, s_ptr, h_ptr, v_ptr, c_ptr, T, N, NEURON: tl.constexpr,
                  HAS_VINIT: tl.constexpr, SOFT: tl.constexpr, SAVE_H: tl.constexpr,
                  SAVE_V: tl.constexpr, RECOMPUTE_ONLY: tl.constexpr, BLOCK: tl.constexpr):
    """Forward; with RECOMPUTE_ONLY it writes only h (backward's first pass in recompute mode)."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    k0, k1, k2 = tl.load(p_ptr), tl.load(p_ptr + 1), tl.load(p_ptr + 2)
    v_th, v_reset, v_start, _alpha = load_fire_params(p_ptr)
    if NEURON == 2 or NEURON == 3:
        k0 = tl.load(q_ptr).to(k0.dtype)
    cur = tl.zeros([BLOCK], k0.dtype)
    if HAS_VINIT:
        v = tl.load(vinit_ptr + offs, mask=mask, other=0.0).to(k0.dtype)
    else:
        v = cur + v_start
    xp, sp, hp, vp, cp = x_ptr + offs, s_ptr + offs, h_ptr + offs, v_ptr + offs, c_ptr + offs
    for _ in range(T):
        x = tl.load(xp, mask=mask, other=0.0).to(k0.dtype)
        if NEURON == 4:
            h, s, v, cur = clif_step(k0, v_th, v, cur, x)
        else:
            if NEURON == 0:
                h = lif_charge(k0, k1, k2, v, x)
            elif NEURON == 1:
                h, cur = cuba_charge(k0, k1, cur, v, x)
            else:
                h = plif_charge(k0, v_start, v, x, NEURON == 2)
            s = fire(h, v_th)
            v = reset(h, s, v_th, v_reset, SOFT)
        if not RECOMPUTE_ONLY:
            tl.store(sp, s.to(s_ptr.dtype.element_ty), mask=mask)
        if SAVE_H:
            tl.store(hp, h.to(h_ptr.dtype.element_ty), mask=mask)
            if NEURON == 4:
                tl.store(cp, cur.to(c_ptr.dtype.element_ty), mask=mask)
        if SAVE_V:
            tl.store(vp, v.to(v_ptr.dtype.element_ty), mask=mask)
        xp += N
        sp += N
        hp += N
        vp += N
        cp += N


@triton.jit
def backward_steps(gs_ptr, gv_ptr, h_ptr, p_ptr, gx_ptr, gvi_ptr, q_ptr, pp_ptr, c_ptr, T, N, last,
                   NEURON: tl.constexpr, KIND: tl.constexpr, SOFT: tl.constexpr, DETACH: tl.constexpr,
                   HAS_GV: tl.constexpr, NEED_GVI: tl.constexpr, BLOCK: tl.constexpr):
    """Reverse time from t = T-1 (element offset `last` = (T-1)*N). h may alias gx (recompute
    mode, float32): each step reads h[t] before it writes gx[t]."""
    pid = tl.program_id(0)
    offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    k0, k1 = tl.load(p_ptr), tl.load(p_ptr + 1)
    v_th, v_reset, v_start, alpha = load_fire_params(p_ptr)
    if NEURON == 0:
        v_decay = k0
    elif NEURON == 1:
        v_decay = k1
    elif NEURON == 4:
        v_decay = 1.0 - 1.0 / k0  # CLIF: dh[t]/dv[t-1] = 1 - 1/tau
    else:
        k0 = tl.load(q_ptr).to(k0.dtype)  # q
        v_decay = 1.0 - k0
    gh_next = tl.zeros([BLOCK], k0.dtype)  # dL/dh[t+1]
    gcur = tl.zeros([BLOCK], k0.dtype)  # CUBA-LIF's carried current gradient (CLIF: dL/dm)
    gparam = tl.zeros([BLOCK], k0.dtype)  # PLIF: per-neuron sums of gh * dh/dq (times q with decay_input)
    h_next = tl.zeros([BLOCK], k0.dtype)  # PLIF: h[t+1]
    gsp, gvp = gs_ptr + last + offs, gv_ptr + last + offs
    hp, gxp, cp = h_ptr + last + offs, gx_ptr + last + offs, c_ptr + last + offs
    if NEURON == 4:
        c_t = tl.load(cp, mask=mask, other=0.0).to(k0.dtype)  # m[t]; each step reads m[t-1]
    for i in range(T):
        h = tl.load(hp, mask=mask, other=0.0).to(k0.dtype)
        gs = tl.load(gsp, mask=mask, other=0.0).to(k0.dtype)
        through_v = v_decay * gh_next
        if HAS_GV:
            through_v = tl.load(gvp, mask=mask, other=0.0).to(k0.dtype) + through_v
        if NEURON == 2 or NEURON == 3:  # gh[t+1] * dh[t+1]/dq (0 at t = T-1, where gh_next is 0)
            gparam += gh_next * plif_param_grad(h_next, reset(h, fire(h, v_th), v_th, v_reset, SOFT), v_start,
                                                NEURON == 2)
            h_next = h
        if NEURON == 4:
            cp -= N
            c_prev = tl.load(cp, mask=mask & (offs * 0 + i < T - 1), other=0.0).to(k0.dtype)  # m[-1] = 0
            gh_next, gcur = clif_grad_step(k0, v_th, alpha, h, c_t, c_prev, gs, through_v, gcur, KIND)
            c_t = c_prev
        else:
            gh_next = grad_h(h, gs, through_v, v_th, v_reset, alpha, KIND, SOFT, DETACH)
        if NEURON == 0:
            gx = lif_input_grad(k1, gh_next)
        elif NEURON == 1:
            gcur = cuba_input_grad(k0, gh_next, gcur)
            gx = gcur
        elif NEURON == 2:  # PLIF, decay_input
            gx = k0 * gh_next
        else:  # PLIF without decay_input, CLIF: dh[t]/dx[t] = 1
            gx = gh_next
        tl.store(gxp, gx.to(gx_ptr.dtype.element_ty), mask=mask)
        gsp -= N
        gvp -= N
        hp -= N
        gxp -= N
    if NEED_GVI:
        tl.store(gvi_ptr + offs, v_decay * gh_next, mask=mask)
    if NEURON == 2 or NEURON == 3:  # dh[0]/dq from v[-1] = v_start, then this program's partial sum
        gparam += gh_next * plif_param_grad(h_next, v_start + tl.zeros([BLOCK], k0.dtype), v_start, NEURON == 2)
        tl.store(pp_ptr + pid, plif_param_block(tl.sum(tl.where(mask, gparam, 0.0), axis=0), k0, NEURON == 2))


# The kernels behind each op, named after it (one search from spikekern.ops finds them).
@triton.jit
def lif_forward_kernel(x_ptr, vinit_ptr, p_ptr, s_ptr, h_ptr, v_ptr, T, N, HAS_VINIT: tl.constexpr,
                       SOFT: tl.constexpr, SAVE_H: tl.constexpr, SAVE_V: tl.constexpr,
                       RECOMPUTE_ONLY: tl.constexpr, BLOCK: tl.constexpr):
    forward_steps(x_ptr, vinit_ptr, p_ptr, p_ptr, s_ptr, h_ptr, v_ptr, h_ptr, T, N, 0, HAS_VINIT, SOFT, SAVE_H,
                  SAVE_V, RECOMPUTE_ONLY, BLOCK)


@triton.jit
def lif_backward_kernel(gs_ptr, gv_ptr, h_ptr, p_ptr, gx_ptr, gvi_ptr, T, N, last, KIND: tl.constexpr,
                        SOFT: tl.constexpr, DETACH: tl.constexpr, HAS_GV: tl.constexpr,
                        NEED_GVI: tl.constexpr, BLOCK: tl.constexpr):
    backward_steps(gs_ptr, gv_ptr, h_ptr, p_ptr, gx_ptr, gvi_ptr, p_ptr, p_ptr, h_ptr, T, N, last, 0, KIND,
                   SOFT, DETACH, HAS_GV, NEED_GVI, BLOCK)


@triton.jit
def cuba_lif_forward_kernel(x_ptr, p_ptr, s_ptr, h_ptr, v_ptr, T, N, SOFT: tl.constexpr,
                            SAVE_H: tl.constexpr, SAVE_V: tl.constexpr,
                            RECOMPUTE_ONLY: tl.constexpr, BLOCK: tl.constexpr):
    forward_steps(x_ptr, p_ptr, p_ptr, p_ptr, s_ptr, h_ptr, v_ptr, h_ptr, T, N, 1, False, SOFT, SAVE_H, SAVE_V,
                  RECOMPUTE_ONLY, BLOCK)


@triton.jit
def cuba_lif_backward_kernel(gs_ptr, gv_ptr, h_ptr, p_ptr, gx_ptr, T, N, last, KIND: tl.constexpr,
                             SOFT: tl.constexpr, DETACH: tl.constexpr, HAS_GV: tl.constexpr,
                             BLOCK: tl.constexpr):
    backward_steps(gs_ptr, gv_ptr, h_ptr, p_ptr, gx_ptr, gx_ptr, p_ptr, p_ptr, h_ptr, T, N, last, 1, KIND,
                   SOFT, DETACH, HAS_GV, False, BLOCK)


@triton.jit
def plif_forward_kernel(x_ptr, p_ptr, q_ptr, s_ptr, h_ptr, v_ptr, T, N, DECAY_INPUT: tl.constexpr,
                        SOFT: tl.constexpr, SAVE_H: tl.constexpr, SAVE_V: tl.constexpr, BLOCK: tl.constexpr):
    forward_steps(x_ptr, p_ptr, p_ptr, q_ptr, s_ptr, h_ptr, v_ptr, h_ptr, T, N, 2 if DECAY_INPUT else 3, False, SOFT,
                  SAVE_H, SAVE_V, False, BLOCK)


@triton.jit
def plif_backward_kernel(gs_ptr, gv_ptr, h_ptr, p_ptr, q_ptr, gx_ptr, pp_ptr, T, N, last,
                         DECAY_INPUT: tl.constexpr, KIND: tl.constexpr, SOFT: tl.constexpr,
                         DETACH: tl.constexpr, HAS_GV: tl.constexpr, BLOCK: tl.constexpr):
    backward_steps(gs_ptr, gv_ptr, h_ptr, p_ptr, gx_ptr, gx_ptr, q_ptr, pp_ptr, h_ptr, T, N, last,
                   2 if DECAY_INPUT else 3, KIND, SOFT, DETACH, HAS_GV, False, BLOCK)


@triton.jit
def clif_forward_kernel(x_ptr, p_ptr, s_ptr, h_ptr, m_ptr, T, N, SAVE_H: tl.constexpr, BLOCK: tl.constexpr):
    """SAVE_H writes h and m (acc dtype), which the backward reads."""
    forward_steps(x_ptr, p_ptr, p_ptr, p_ptr, s_ptr, h_ptr, s_ptr, m_ptr, T, N, 4, False, True, SAVE_H, False,
                  False, BLOCK)


@triton.jit
def clif_backward_kernel(gs_ptr, h_ptr, m_ptr, p_ptr, gx_ptr, T, N, last, KIND: tl.constexpr, BLOCK: tl.constexpr):
    backward_steps(gs_ptr, gs_ptr, h_ptr, p_ptr, gx_ptr, gx_ptr, p_ptr, p_ptr, m_ptr, T, N, last, 4, KIND,
                   True, False, False, False, BLOCK)
