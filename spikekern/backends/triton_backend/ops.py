"""The Triton ops: the same signatures as the compiled ops (csrc/op_schemas.cpp), registered with
torch.library.triton_op (namespace spikekern_triton) so torch.compile can trace into the
kernels, with autograd.

Saved for backward: by default the pre-reset potential h (float32, 4 bytes per neuron-step),
like the peers. With `set_recompute_h(True)` LIF and CUBA-LIF save nothing of their own:
backward keeps the input x and first recomputes h from it (into the grad_x buffer when that
is float32, else into a scratch buffer), trading more memory traffic in backward for no
activation memory between forward and backward.
"""
from __future__ import annotations

import os
from typing import Optional

import torch
import triton
from torch import Tensor
from torch._subclasses.fake_tensor import is_fake
from torch.library import triton_op, wrap_triton

from .common import BLOCK, acc_dtype, neuron_params
from .ilc import ilc_cuba_lif_backward_kernel, ilc_cuba_lif_forward_kernel
from .lif_cuba import (clif_backward_kernel, clif_forward_kernel, cuba_lif_backward_kernel, cuba_lif_forward_kernel,
                       lif_backward_kernel, lif_forward_kernel, plif_backward_kernel, plif_forward_kernel)

_state = {"recompute_h": False}
_INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"


def _launch(kernel, grid, *args, **meta) -> None:
    """Launch through wrap_triton (so torch.compile records the kernel). Triton's interpreter
    cannot run on fake tensors, so there a fake-tensor trace only computes output shapes."""
    if _INTERPRET and is_fake(args[0]):
        return
    wrap_triton(kernel)[grid](*args, **meta)


def set_recompute_h(enabled: bool) -> None:
    """LIF/CUBA-LIF backward recomputes h from x instead of saving it (see module doc)."""
    _state["recompute_h"] = bool(enabled)


def recompute_h() -> bool:
    return _state["recompute_h"]


def _sizes(x: Tensor) -> tuple[int, int]:
    T = x.shape[0]
    return T, (x.numel() // T if T else 0)


def _grid(N: int):
    return (max(1, triton.cdiv(N, BLOCK)),)


def _empty_or(x: Tensor, wanted: bool, dtype: torch.dtype) -> Tensor:
    return torch.empty(x.shape, dtype=dtype, device=x.device) if wanted else x.new_empty((0,), dtype=dtype)


# ------------------------------------------------------------------------------------ LIF
def _lif_params(a, b, c, v_th, v_reset, soft, alpha, like):
    return neuron_params((a, b, c), v_th, v_reset, soft, alpha, like)


@triton_op("spikekern_triton::lif_forward", mutates_args=())
def _lif_forward(x: Tensor, v_init: Optional[Tensor], a: float, b: float, c: float, v_th: float,
                 v_reset: float, soft: bool, detach: bool, surrogate: int, alpha: float,
                 save_h: bool, return_v: bool, recompute: bool) -> tuple[Tensor, Tensor, Tensor]:
    x = x.contiguous()
    T, N = _sizes(x)
    acc = acc_dtype(x.dtype)
    write_h = save_h and not recompute
    s = torch.empty_like(x)
    h = _empty_or(x, write_h, acc)
    v = _empty_or(x, return_v, x.dtype)
    vi = v_init.to(acc).contiguous() if v_init is not None else None
    p = _lif_params(a, b, c, v_th, v_reset, soft, alpha, x)
    _launch(lif_forward_kernel, _grid(N),
        x, vi if vi is not None else p, p, s, h if write_h else s, v if return_v else s, T, N,
        HAS_VINIT=vi is not None, SOFT=soft, SAVE_H=write_h, SAVE_V=return_v, RECOMPUTE_ONLY=False, BLOCK=BLOCK)
    return s, h, v


@triton_op("spikekern_triton::lif_backward", mutates_args=())
def _lif_backward(grad_s: Tensor, grad_v: Optional[Tensor], h: Tensor, x: Optional[Tensor],
                  v_init: Optional[Tensor], a: float, b: float, c: float, v_th: float, v_reset: float,
                  soft: bool, detach: bool, surrogate: int, alpha: float,
                  need_gvi: bool) -> tuple[Tensor, Tensor]:
    """From the saved h, or (recompute mode: x given, h empty) from x and v_init."""
    gs = grad_s.contiguous()
    T, N = _sizes(gs)
    acc = acc_dtype(gs.dtype)
    gx = torch.empty_like(gs)
    gvi = torch.empty(gs.shape[1:], dtype=acc, device=gs.device) if need_gvi else gs.new_empty((0,), dtype=acc)
    gv = grad_v.contiguous() if grad_v is not None else None
    p = _lif_params(a, b, c, v_th, v_reset, soft, alpha, gs)
    # Recompute mode is told by x, not by an empty h: a zero-size batch has an empty h too.
    if x is not None:  # recompute mode: rebuild h, in gx itself when it can hold float32
        h = gx if gx.dtype == acc else torch.empty(gs.shape, dtype=acc, device=gs.device)
        vi = v_init.to(acc).contiguous() if v_init is not None else None
        _launch(lif_forward_kernel, _grid(N),
            x.contiguous(), vi if vi is not None else p, p, h, h, h, T, N, HAS_VINIT=vi is not None,
            SOFT=soft, SAVE_H=True, SAVE_V=False, RECOMPUTE_ONLY=True, BLOCK=BLOCK)
    _launch(lif_backward_kernel, _grid(N),
        gs, gv if gv is not None else gs, h, p, gx, gvi if need_gvi else gx, T, N, (T - 1) * N,
        KIND=surrogate, SOFT=soft, DETACH=detach, HAS_GV=gv is not None, NEED_GVI=need_gvi, BLOCK=BLOCK)
    return gx, gvi


def _lif_setup(ctx, inputs, output):
    x, v_init, a, b, c, v_th, v_reset, soft, detach, sg, alpha, save_h, return_v, recompute = inputs
    ctx.saved_h = save_h
    ctx.args = (a, b, c, v_th, v_reset, soft, detach, sg, alpha)
    ctx.spike_dtype = x.dtype
    ctx.v_init_dtype = None if v_init is None else v_init.dtype
    if recompute:
        ctx.save_for_backward(output[1], x, v_init)
    else:
        ctx.save_for_backward(output[1], None, None)
    ctx.set_materialize_grads(False)


def _lif_bwd(ctx, gs, _gh, gv):
    h, x, v_init = ctx.saved_tensors
    _check_saved(ctx.saved_h, "lif")
    if gs is None:
        ref = x if x is not None else h
        gs = torch.zeros(ref.shape, dtype=ctx.spike_dtype, device=ref.device)
    need_gvi = ctx.v_init_dtype is not None and ctx.needs_input_grad[1]
    gx, gvi = _lif_backward(gs, gv, h, x, v_init, *ctx.args, need_gvi)
    return (gx, gvi.to(ctx.v_init_dtype) if need_gvi else None) + (None,) * 12


_lif_forward.register_autograd(_lif_bwd, setup_context=_lif_setup)


# ------------------------------------------------------------------------------ CUBA-LIF
def _cuba_params(cd, vd, v_th, v_reset, soft, alpha, like):
    return neuron_params((cd, vd), v_th, v_reset, soft, alpha, like)


@triton_op("spikekern_triton::cuba_lif_forward", mutates_args=())
def _cuba_forward(x: Tensor, c_decay: float, v_decay: float, v_th: float, v_reset: float, soft: bool,
                  detach: bool, surrogate: int, alpha: float, save_h: bool, return_v: bool,
                  recompute: bool) -> tuple[Tensor, Tensor, Tensor]:
    x = x.contiguous()
    T, N = _sizes(x)
    write_h = save_h and not recompute
    s = torch.empty_like(x)
    h = _empty_or(x, write_h, acc_dtype(x.dtype))
    v = _empty_or(x, return_v, x.dtype)
    p = _cuba_params(c_decay, v_decay, v_th, v_reset, soft, alpha, x)
    _launch(cuba_lif_forward_kernel, _grid(N),
        x, p, s, h if write_h else s, v if return_v else s, T, N, SOFT=soft, SAVE_H=write_h,
        SAVE_V=return_v, RECOMPUTE_ONLY=False, BLOCK=BLOCK)
    return s, h, v


@triton_op("spikekern_triton::cuba_lif_backward", mutates_args=())
def _cuba_backward(grad_s: Tensor, grad_v: Optional[Tensor], h: Tensor, x: Optional[Tensor],
                   c_decay: float, v_decay: float, v_th: float, v_reset: float, soft: bool, detach: bool,
                   surrogate: int, alpha: float) -> Tensor:
    gs = grad_s.contiguous()
    T, N = _sizes(gs)
    acc = acc_dtype(gs.dtype)
    gx = torch.empty_like(gs)
    gv = grad_v.contiguous() if grad_v is not None else None
    p = _cuba_params(c_decay, v_decay, v_th, v_reset, soft, alpha, gs)
    if x is not None:  # recompute mode (see _lif_backward)
        h = gx if gx.dtype == acc else torch.empty(gs.shape, dtype=acc, device=gs.device)
        _launch(cuba_lif_forward_kernel, _grid(N),
            x.contiguous(), p, h, h, h, T, N, SOFT=soft, SAVE_H=True, SAVE_V=False,
            RECOMPUTE_ONLY=True, BLOCK=BLOCK)
    _launch(cuba_lif_backward_kernel, _grid(N),
        gs, gv if gv is not None else gs, h, p, gx, T, N, (T - 1) * N, KIND=surrogate, SOFT=soft,
        DETACH=detach, HAS_GV=gv is not None, BLOCK=BLOCK)
    return gx


def _cuba_setup(ctx, inputs, output):
    x, cd, vd, v_th, v_reset, soft, detach, sg, alpha, save_h, return_v, recompute = inputs
    ctx.saved_h = save_h
    ctx.args = (cd, vd, v_th, v_reset, soft, detach, sg, alpha)
    ctx.spike_dtype = x.dtype
    ctx.save_for_backward(output[1], x if recompute else None)
    ctx.set_materialize_grads(False)


def _cuba_bwd(ctx, gs, _gh, gv):
    h, x = ctx.saved_tensors
    _check_saved(ctx.saved_h, "cuba_lif")
    if gs is None:
        ref = x if x is not None else h
        gs = torch.zeros(ref.shape, dtype=ctx.spike_dtype, device=ref.device)
    return (_cuba_backward(gs, gv, h, x, *ctx.args),) + (None,) * 11


_cuba_forward.register_autograd(_cuba_bwd, setup_context=_cuba_setup)


# ---------------------------------------------------------------------------------- PLIF
# q (the learned 1/tau) is a one-element tensor the kernels read; backward returns dL/dq as
# the sum, in program order, of one partial per program (deterministic).
def _plif_params(v_th, v_reset, soft, alpha, like):
    return neuron_params((), v_th, v_reset, soft, alpha, like)


@triton_op("spikekern_triton::plif_forward", mutates_args=())
def _plif_forward(x: Tensor, q: Tensor, v_th: float, v_reset: float, soft: bool, decay_input: bool,
                  detach: bool, surrogate: int, alpha: float, save_h: bool,
                  return_v: bool) -> tuple[Tensor, Tensor, Tensor]:
    x = x.contiguous()
    T, N = _sizes(x)
    s = torch.empty_like(x)
    h = _empty_or(x, save_h, acc_dtype(x.dtype))
    v = _empty_or(x, return_v, x.dtype)
    qa = q.to(acc_dtype(x.dtype)).reshape(()).contiguous()
    p = _plif_params(v_th, v_reset, soft, alpha, x)
    _launch(plif_forward_kernel, _grid(N),
        x, p, qa, s, h if save_h else s, v if return_v else s, T, N, DECAY_INPUT=decay_input, SOFT=soft,
        SAVE_H=save_h, SAVE_V=return_v, BLOCK=BLOCK)
    return s, h, v


@triton_op("spikekern_triton::plif_backward", mutates_args=())
def _plif_backward(grad_s: Tensor, grad_v: Optional[Tensor], h: Tensor, q: Tensor, v_th: float,
                   v_reset: float, soft: bool, decay_input: bool, detach: bool, surrogate: int,
                   alpha: float) -> tuple[Tensor, Tensor]:
    gs = grad_s.contiguous()
    T, N = _sizes(gs)
    acc = acc_dtype(gs.dtype)
    gx = torch.empty_like(gs)
    gv = grad_v.contiguous() if grad_v is not None else None
    qa = q.to(acc).reshape(()).contiguous()
    grid = _grid(N)
    parts = torch.zeros(grid, dtype=acc, device=gs.device)
    p = _plif_params(v_th, v_reset, soft, alpha, gs)
    _launch(plif_backward_kernel, grid,
        gs, gv if gv is not None else gs, h.contiguous(), p, qa, gx, parts, T, N, (T - 1) * N,
        DECAY_INPUT=decay_input, KIND=surrogate, SOFT=soft, DETACH=detach, HAS_GV=gv is not None, BLOCK=BLOCK)
    gq = parts.double().sum()  # in double: the total often cancels to far below its terms
    return gx, gq.to(acc)


def _plif_setup(ctx, inputs, output):
    x, q, v_th, v_reset, soft, decay_input, detach, sg, alpha, save_h, return_v = inputs
    ctx.saved_h = save_h
    ctx.args = (v_th, v_reset, soft, decay_input, detach, sg, alpha)
    ctx.spike_dtype = x.dtype
    ctx.save_for_backward(output[1], q)
    ctx.set_materialize_grads(False)


def _plif_bwd(ctx, gs, _gh, gv):
    h, q = ctx.saved_tensors
    _check_saved(ctx.saved_h, "plif")
    if gs is None:
        gs = torch.zeros(h.shape, dtype=ctx.spike_dtype, device=h.device)
    gx, gq = _plif_backward(gs, gv, h, q, *ctx.args)
    return (gx, gq.to(q.dtype).reshape(q.shape)) + (None,) * 9


_plif_forward.register_autograd(_plif_bwd, setup_context=_plif_setup)


# ---------------------------------------------------------------------------------- CLIF
# The shared loops' parameter vector with k = (tau,); h and m (acc dtype) saved for the backward.
@triton_op("spikekern_triton::clif_forward", mutates_args=())
def _clif_forward(x: Tensor, tau: float, v_th: float, surrogate: int, alpha: float,
                  save_h: bool) -> tuple[Tensor, Tensor, Tensor]:
    x = x.contiguous()
    T, N = _sizes(x)
    s = torch.empty_like(x)
    h = _empty_or(x, save_h, acc_dtype(x.dtype))
    m = _empty_or(x, save_h, acc_dtype(x.dtype))
    p = neuron_params((tau,), v_th, 0.0, True, alpha, x)
    _launch(clif_forward_kernel, _grid(N), x, p, s, h if save_h else s, m if save_h else s, T, N, SAVE_H=save_h,
            BLOCK=BLOCK)
    return s, h, m


@triton_op("spikekern_triton::clif_backward", mutates_args=())
def _clif_backward(grad_s: Tensor, h: Tensor, m: Tensor, tau: float, v_th: float, surrogate: int,
                   alpha: float) -> Tensor:
    gs = grad_s.contiguous()
    T, N = _sizes(gs)
    gx = torch.empty_like(gs)
    p = neuron_params((tau,), v_th, 0.0, True, alpha, gs)
    _launch(clif_backward_kernel, _grid(N), gs, h.contiguous(), m.contiguous(), p, gx, T, N, (T - 1) * N,
            KIND=surrogate, BLOCK=BLOCK)
    return gx


def _clif_setup(ctx, inputs, output):
    x, tau, v_th, sg, alpha, save_h = inputs
    ctx.saved_h = save_h
    ctx.args = (tau, v_th, sg, alpha)
    ctx.save_for_backward(output[1], output[2])
    ctx.set_materialize_grads(False)


def _clif_bwd(ctx, gs, _gh, _gm):
    h, m = ctx.saved_tensors
    _check_saved(ctx.saved_h, "clif")
    if gs is None:  # h and m are not differentiable: only the spikes carry a gradient
        return (None,) * 6
    return (_clif_backward(gs, h, m, *ctx.args),) + (None,) * 5


_clif_forward.register_autograd(_clif_bwd, setup_context=_clif_setup)


# -------------------------------------------------------------------------- ILC-CUBA-LIF
def _ilc_tiles(M: int, P: int) -> tuple[int, int]:
    p_pad = max(2, triton.next_power_of_2(P))
    block_m = max(1, min(64, triton.next_power_of_2(max(1, 4096 // (p_pad * p_pad)))))
    return block_m, p_pad


@triton_op("spikekern_triton::ilc_cuba_lif_forward", mutates_args=())
def _ilc_forward(x: Tensor, weight: Tensor, bias: Tensor, c_decay: float, v_decay: float, v_th: float,
                 v_reset: float, soft: bool, detach: bool, surrogate: int, alpha: float,
                 save_h: bool) -> tuple[Tensor, Tensor]:
    x = x.contiguous()
    A, P = weight.shape[0], weight.shape[1]
    T = x.shape[0]
    M = x.numel() // (T * A * P)
    s = torch.empty_like(x)
    h = _empty_or(x, save_h, acc_dtype(x.dtype))
    p = _cuba_params(c_decay, v_decay, v_th, v_reset, soft, alpha, x)
    block_m, p_pad = _ilc_tiles(M, P)
    _launch(ilc_cuba_lif_forward_kernel, (triton.cdiv(M, block_m), A),
        x, weight.contiguous(), bias.contiguous(), p, s, h if save_h else s, T, M, A, P, SOFT=soft,
        SAVE_H=save_h, BLOCK_M=block_m, P_PAD=p_pad)
    return s, h


@triton_op("spikekern_triton::ilc_cuba_lif_backward", mutates_args=())
def _ilc_backward(grad_s: Tensor, h: Tensor, weight: Tensor, c_decay: float, v_decay: float, v_th: float,
                  v_reset: float, soft: bool, detach: bool, surrogate: int,
                  alpha: float) -> tuple[Tensor, Tensor, Tensor]:
    gs = grad_s.contiguous()
    A, P = weight.shape[0], weight.shape[1]
    T = gs.shape[0]
    M = gs.numel() // (T * A * P)
    acc = acc_dtype(gs.dtype)
    block_m, p_pad = _ilc_tiles(M, P)
    n_prog = triton.cdiv(M, block_m)
    gx = torch.empty_like(gs)
    gw_part = torch.empty((n_prog, A, P, P), dtype=acc, device=gs.device)
    gb_part = torch.empty((n_prog, A, P), dtype=acc, device=gs.device)
    p = _cuba_params(c_decay, v_decay, v_th, v_reset, soft, alpha, gs)
    _launch(ilc_cuba_lif_backward_kernel, (n_prog, A),
        gs, h, weight.contiguous(), p, gx, gw_part, gb_part, T, M, A, P, (T - 1) * M * A * P,
        KIND=surrogate, SOFT=soft, DETACH=detach, BLOCK_M=block_m, P_PAD=p_pad)
    # Across programs: a plain sum over the partials (no atomics: deterministic).
    return gx, gw_part.sum(0).to(weight.dtype), gb_part.sum(0).to(weight.dtype)


def _ilc_setup(ctx, inputs, output):
    x, w, bias, cd, vd, v_th, v_reset, soft, detach, sg, alpha, save_h = inputs
    ctx.saved_h = save_h
    ctx.args = (cd, vd, v_th, v_reset, soft, detach, sg, alpha)
    ctx.spike_dtype = x.dtype
    ctx.save_for_backward(output[1], w)
    ctx.set_materialize_grads(False)


def _ilc_bwd(ctx, gs, _gh):
    h, w = ctx.saved_tensors
    _check_saved(ctx.saved_h, "ilc_cuba_lif")
    if gs is None:
        gs = torch.zeros(h.shape, dtype=ctx.spike_dtype, device=h.device)
    gx, gw, gb = _ilc_backward(gs, h, w, *ctx.args)
    return (gx, gw, gb) + (None,) * 9


_ilc_forward.register_autograd(_ilc_bwd, setup_context=_ilc_setup)


def _check_saved(saved: bool, op: str) -> None:
    if not saved:
        raise RuntimeError(f"spikekern: backward through spikekern.ops.{op} whose forward ran without grad "
                           "(it saved nothing); run the forward with grad enabled")


# The functions spikekern.ops calls: the compiled ops' signatures (no recompute argument).
# triton_backend exports these names (a new neuron's <name>_forward joins the list).
__all__ = ["set_recompute_h", "recompute_h", "lif_forward", "cuba_lif_forward", "ilc_cuba_lif_forward", "plif_forward",
           "clif_forward"]


def lif_forward(*args):
    return _lif_forward(*args, _state["recompute_h"])


def cuba_lif_forward(*args):
    return _cuba_forward(*args, _state["recompute_h"])


def ilc_cuba_lif_forward(*args):
    return _ilc_forward(*args)


def plif_forward(*args):
    return _plif_forward(*args)


def clif_forward(*args):
    return _clif_forward(*args)
