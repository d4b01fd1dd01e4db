"""Fake (meta) kernels and autograd for the compiled ops torch.ops.spikekern.*.

The schemas live in csrc/ops.cpp; the CPU and CUDA implementations are registered by
the extension. Forward ops return the pre-reset potential h (float32, or float64 for
float64 input) when save_h is true; that is all backward needs, since s = Θ(h - v_th).
"""
from __future__ import annotations

import torch

from ..backends import native as _loader

_LIB = "spikekern"


def _acc(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _maybe(x: torch.Tensor, wanted: bool, dtype: torch.dtype | None = None) -> torch.Tensor:
    dtype = dtype or x.dtype
    return x.new_empty(x.shape, dtype=dtype) if wanted else x.new_empty((0,), dtype=dtype)


def _require_saved(h: torch.Tensor, op: str) -> None:
    if h.numel() == 0:
        raise RuntimeError(
            f"spikekern: backward through {op} whose forward ran without grad "
            "(it saved nothing); run the forward with grad enabled"
        )


def _register() -> None:
    # ----------------------------------------------------------------- fake kernels
    @torch.library.register_fake(f"{_LIB}::lif_forward")
    def _(x, v_init, a, b, c, v_th, v_reset, soft, detach, sg, alpha, save_h, return_v):
        return x.new_empty(x.shape), _maybe(x, save_h, _acc(x.dtype)), _maybe(x, return_v)

    @torch.library.register_fake(f"{_LIB}::lif_backward")
    def _(gs, gv, h, a, b, v_th, v_reset, soft, detach, sg, alpha, need_gvi):
        gvi = h.new_empty(h.shape[1:]) if need_gvi else h.new_empty((0,))
        return gs.new_empty(gs.shape), gvi

    @torch.library.register_fake(f"{_LIB}::cuba_lif_forward")
    def _(x, cd, vd, v_th, v_reset, soft, detach, sg, alpha, save_h, return_v):
        return x.new_empty(x.shape), _maybe(x, save_h, _acc(x.dtype)), _maybe(x, return_v)

    @torch.library.register_fake(f"{_LIB}::cuba_lif_backward")
    def _(gs, gv, h, cd, vd, v_th, v_reset, soft, detach, sg, alpha):
        return gs.new_empty(gs.shape)

    @torch.library.register_fake(f"{_LIB}::ilc_cuba_lif_forward")
    def _(x, w, bias, cd, vd, v_th, v_reset, soft, detach, sg, alpha, save_h):
        return x.new_empty(x.shape), _maybe(x, save_h, _acc(x.dtype))

    @torch.library.register_fake(f"{_LIB}::ilc_cuba_lif_backward")
    def _(gs, h, w, cd, vd, v_th, v_reset, soft, detach, sg, alpha):
        return gs.new_empty(gs.shape), w.new_empty(w.shape), w.new_empty(w.shape[:2])

    # ----------------------------------------------------------------- autograd
    def lif_setup(ctx, inputs, output):
        x, v_init, a, b, c, v_th, v_reset, soft, detach, sg, alpha, save_h, return_v = inputs
        ctx.save_for_backward(output[1])
        ctx.args = (a, b, v_th, v_reset, soft, detach, sg, alpha)
        ctx.return_v = return_v
        ctx.v_init_dtype = None if v_init is None else v_init.dtype

    def lif_backward(ctx, gs, _gh, gv):
        (h,) = ctx.saved_tensors
        _require_saved(h, "spikekern.ops.lif")
        need_gvi = ctx.v_init_dtype is not None and ctx.needs_input_grad[1]
        gx, gvi = torch.ops.spikekern.lif_backward(
            gs, gv if ctx.return_v else None, h, *ctx.args, need_gvi
        )
        gvi = gvi.to(ctx.v_init_dtype) if need_gvi else None
        return (gx, gvi) + (None,) * 11

    torch.library.register_autograd(f"{_LIB}::lif_forward", lif_backward, setup_context=lif_setup)

    def cuba_setup(ctx, inputs, output):
        x, cd, vd, v_th, v_reset, soft, detach, sg, alpha, save_h, return_v = inputs
        ctx.save_for_backward(output[1])
        ctx.args = (cd, vd, v_th, v_reset, soft, detach, sg, alpha)
        ctx.return_v = return_v

    def cuba_backward(ctx, gs, _gh, gv):
        (h,) = ctx.saved_tensors
        _require_saved(h, "spikekern.ops.cuba_lif")
        gx = torch.ops.spikekern.cuba_lif_backward(gs, gv if ctx.return_v else None, h, *ctx.args)
        return (gx,) + (None,) * 10

    torch.library.register_autograd(f"{_LIB}::cuba_lif_forward", cuba_backward, setup_context=cuba_setup)

    def ilc_setup(ctx, inputs, output):
        x, w, bias, cd, vd, v_th, v_reset, soft, detach, sg, alpha, save_h = inputs
        ctx.save_for_backward(output[1], w)
        ctx.args = (cd, vd, v_th, v_reset, soft, detach, sg, alpha)

    def ilc_backward(ctx, gs, _gh):
        h, w = ctx.saved_tensors
        _require_saved(h, "spikekern.ops.ilc_cuba_lif")
        gx, gw, gb = torch.ops.spikekern.ilc_cuba_lif_backward(gs, h, w, *ctx.args)
        return (gx, gw, gb) + (None,) * 9

    torch.library.register_autograd(
        f"{_LIB}::ilc_cuba_lif_forward", ilc_backward, setup_context=ilc_setup
    )


if _loader.why_unavailable("cpu") is None:
    _register()
