"""Fake (meta) kernels for the compiled ops torch.ops.spikekern.*, so torch.compile and
FakeTensor tracing know their output shapes.

The schemas live in csrc/op_schemas.cpp, the CPU and CUDA implementations in csrc/cpu and
csrc/cuda, and autograd in csrc/autograd.cpp. Forward ops return the pre-reset potential h
(float32, or float64 for float64 input) when save_h is true; that is all backward needs,
since s = Θ(h - v_th) (CLIF's also saves m, its second state).
"""
from __future__ import annotations

import math

import torch

from ..backends import extension as _loader
from .validation import acc_dtype

_LIB = "spikekern"


def _maybe(x: torch.Tensor, wanted: bool, dtype: torch.dtype | None = None) -> torch.Tensor:
    dtype = dtype or x.dtype
    return x.new_empty(x.shape, dtype=dtype) if wanted else x.new_empty((0,), dtype=dtype)


def _register() -> None:
    @torch.library.register_fake(f"{_LIB}::lif_forward")
    def _(x, v_init, a, b, c, v_th, v_reset, soft, detach, sg, alpha, save_h, return_v):
        return x.new_empty(x.shape), _maybe(x, save_h, acc_dtype(x.dtype)), _maybe(x, return_v)

    @torch.library.register_fake(f"{_LIB}::lif_backward")
    def _(gs, gv, h, a, b, v_th, v_reset, soft, detach, sg, alpha, need_gvi):
        gvi = h.new_empty(h.shape[1:]) if need_gvi else h.new_empty((0,))
        return gs.new_empty(gs.shape), gvi

    @torch.library.register_fake(f"{_LIB}::cuba_lif_forward")
    def _(x, cd, vd, v_th, v_reset, soft, detach, sg, alpha, save_h, return_v):
        return x.new_empty(x.shape), _maybe(x, save_h, acc_dtype(x.dtype)), _maybe(x, return_v)

    @torch.library.register_fake(f"{_LIB}::cuba_lif_backward")
    def _(gs, gv, h, cd, vd, v_th, v_reset, soft, detach, sg, alpha):
        return gs.new_empty(gs.shape)

    @torch.library.register_fake(f"{_LIB}::ilc_cuba_lif_forward")
    def _(x, w, bias, cd, vd, v_th, v_reset, soft, detach, sg, alpha, save_h):
        return x.new_empty(x.shape), _maybe(x, save_h, acc_dtype(x.dtype))

    @torch.library.register_fake(f"{_LIB}::ilc_cuba_lif_backward")
    def _(gs, h, w, cd, vd, v_th, v_reset, soft, detach, sg, alpha):
        return gs.new_empty(gs.shape), w.new_empty(w.shape), w.new_empty(w.shape[:2])

    @torch.library.register_fake(f"{_LIB}::plif_forward")
    def _(x, q, v_th, v_reset, soft, decay_input, detach, sg, alpha, save_h, return_v):
        return x.new_empty(x.shape), _maybe(x, save_h, acc_dtype(x.dtype)), _maybe(x, return_v)

    @torch.library.register_fake(f"{_LIB}::plif_backward")
    def _(gs, gv, h, x, q, v_th, v_reset, soft, decay_input, detach, sg, alpha):
        return gs.new_empty(gs.shape), h.new_empty(())

    @torch.library.register_fake(f"{_LIB}::clif_forward")
    def _(x, tau, v_th, sg, alpha, save_h):
        return x.new_empty(x.shape), _maybe(x, save_h, acc_dtype(x.dtype)), _maybe(x, save_h, acc_dtype(x.dtype))

    @torch.library.register_fake(f"{_LIB}::clif_backward")
    def _(gs, h, m, tau, v_th, sg, alpha):
        return gs.new_empty(gs.shape)


    @torch.library.register_fake(f"{_LIB}::spike_linear_forward")
    def _(s, w, bias, check):
        rows = math.prod(s.shape[:-1])
        return (s.new_empty((*s.shape[:-1], w.shape[0])), s.new_empty((rows, 8 * ((w.shape[1] + 63) // 64)),
                dtype=torch.uint8), s.new_empty((), dtype=torch.int64))

    @torch.library.register_fake(f"{_LIB}::spike_linear_backward")
    def _(gy, bits, spikes, w, need_input, need_weight, need_bias):
        gs = gy.new_empty((*gy.shape[:-1], w.shape[1])) if need_input else gy.new_empty((0,))
        return gs, gy.new_empty(w.shape) if need_weight else gy.new_empty((0,)), \
            gy.new_empty(w.shape[:1]) if need_bias else gy.new_empty((0,))


if _loader.why_unavailable("cpu") is None:
    _register()
