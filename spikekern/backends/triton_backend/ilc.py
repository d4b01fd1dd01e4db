"""Triton kernels for ILC-CUBA-LIF (NEURONS.md §3).

Program (i, g) takes BLOCK_M samples of group g; the group's P x P matrix and bias stay in
registers (P padded to P_PAD, a power of two, up to 64) and the lateral input
W_g s_g[t-1] + b_g is applied inside the time loop. Backward accumulates the program's
weight and bias gradients and stores them as one partial per program; the host sums the
partials in a fixed order (no atomics, deterministic).
Params p = common.neuron_params((c_decay, v_decay), ...).
"""
import triton
import triton.language as tl

from .common import cuba_charge, cuba_input_grad, fire, grad_h, load_fire_params, reset


@triton.jit
def ilc_cuba_lif_forward_kernel(x_ptr, w_ptr, b_ptr, p_ptr, s_ptr, h_ptr, T, M, A, P, SOFT: tl.constexpr,
                   SAVE_H: tl.constexpr, BLOCK_M: tl.constexpr, P_PAD: tl.constexpr):
    g = tl.program_id(1)
    m = tl.program_id(0).to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    p = tl.arange(0, P_PAD)
    pm = p < P
    mask = (m < M)[:, None] & pm[None, :]
    cd, vd = tl.load(p_ptr), tl.load(p_ptr + 1)
    v_th, v_reset, v_start, _alpha = load_fire_params(p_ptr)
    W = tl.load(w_ptr + g * P * P + p[:, None] * P + p[None, :], mask=pm[:, None] & pm[None, :], other=0.0).to(cd.dtype)
    bias = tl.load(b_ptr + g * P + p, mask=pm, other=0.0).to(cd.dtype)
    offs = m[:, None] * (A * P) + g * P + p[None, :]
    step = M * A * P
    cur = tl.zeros([BLOCK_M, P_PAD], cd.dtype)
    v = cur + v_start
    s = cur
    xp, sp, hp = x_ptr + offs, s_ptr + offs, h_ptr + offs
    for t in range(T):
        xin = tl.load(xp, mask=mask, other=0.0).to(cd.dtype)
        lateral = tl.sum(s[:, None, :] * W[None, :, :], axis=2) + bias[None, :]
        after_first = (tl.zeros([BLOCK_M, P_PAD], tl.int32) + t) > 0  # a tensor even when T is constexpr 1
        xin = tl.where(after_first, xin + lateral, xin)
        h, cur = cuba_charge(cd, vd, cur, v, xin)
        s = tl.where(mask, fire(h, v_th), 0.0)
        v = reset(h, s, v_th, v_reset, SOFT)
        tl.store(sp, s.to(s_ptr.dtype.element_ty), mask=mask)
        if SAVE_H:
            tl.store(hp, h, mask=mask)
        xp += step
        sp += step
        hp += step


@triton.jit
def ilc_cuba_lif_backward_kernel(gs_ptr, h_ptr, w_ptr, p_ptr, gx_ptr, gw_part_ptr, gb_part_ptr, T, M, A, P, last,
                   KIND: tl.constexpr, SOFT: tl.constexpr, DETACH: tl.constexpr,
                   BLOCK_M: tl.constexpr, P_PAD: tl.constexpr):
    pid = tl.program_id(0)
    g = tl.program_id(1)
    m = pid.to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    p = tl.arange(0, P_PAD)
    pm = p < P
    mask = (m < M)[:, None] & pm[None, :]
    cd, vd = tl.load(p_ptr), tl.load(p_ptr + 1)
    v_th, v_reset, _v_start, alpha = load_fire_params(p_ptr)
    W = tl.load(w_ptr + g * P * P + p[:, None] * P + p[None, :], mask=pm[:, None] & pm[None, :], other=0.0).to(cd.dtype)
    offs = m[:, None] * (A * P) + g * P + p[None, :]
    step = M * A * P
    gh_next = tl.zeros([BLOCK_M, P_PAD], cd.dtype)
    gcur = gh_next
    dW = tl.zeros([P_PAD, P_PAD], cd.dtype)
    db = tl.zeros([P_PAD], cd.dtype)
    gsp, hp, gxp = gs_ptr + last + offs, h_ptr + last + offs, gx_ptr + last + offs
    for k in range(T):
        t = T - 1 - k
        # W_g^T gx'[t+1] (gcur is zero before the first step, so the last step gets nothing)
        gs_lat = tl.sum(gcur[:, :, None] * W[None, :, :], axis=1)
        h = tl.load(hp, mask=mask, other=0.0).to(cd.dtype)
        gs = tl.load(gsp, mask=mask, other=0.0).to(cd.dtype)
        gh_next = grad_h(h, gs + gs_lat, vd * gh_next, v_th, v_reset, alpha, KIND, SOFT, DETACH)
        gcur = tl.where(mask, cuba_input_grad(cd, gh_next, gcur), 0.0)
        tl.store(gxp, gcur.to(gx_ptr.dtype.element_ty), mask=mask)
        # dW += gx'[t] (outer) s[t-1], db += gx'[t], for t >= 1
        has_prev = (tl.zeros([BLOCK_M, P_PAD], tl.int32) + t) > 0
        h_prev = tl.load(hp - step, mask=mask & has_prev, other=0.0).to(cd.dtype)
        s_prev = tl.where(mask & has_prev, fire(h_prev, v_th), 0.0)
        dW += tl.sum(gcur[:, :, None] * s_prev[:, None, :], axis=0)
        db += tl.sum(tl.where(has_prev, gcur, 0.0), axis=0)
        gsp -= step
        hp -= step
        gxp -= step
    part = (pid * A + g).to(tl.int64)
    tl.store(gw_part_ptr + part * P * P + p[:, None] * P + p[None, :], dW, mask=pm[:, None] & pm[None, :])
    tl.store(gb_part_ptr + part * P + p, db, mask=pm)
