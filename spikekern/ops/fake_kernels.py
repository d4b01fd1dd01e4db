"""Fake (meta) kernels for the compiled ops torch.ops.spikekern.*, so torch.compile and
FakeTensor tracing know their output shapes.

The schemas live in csrc/op_schemas.cpp, the CPU and CUDA implementations in csrc/cpu and
csrc/cuda, and autograd in csrc/autograd.cpp. The neuron ops' fake kernels follow from their
schemas (the names of their outputs, below); spike_linear's are written out. Forward ops return
the pre-reset potential h (float32, or float64 for float64 input) when save_h is true; that is
all backward needs, since s = Θ(h - v_th) (CLIF's also saves m, its second state).
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


# The neuron ops' outputs, by the names their schemas give them (csrc/op_schemas.cpp): each
# name's rule builds the output from the op's arguments by name (a) and its [T, ...] input (x).
# A backward's one unnamed output is grad_x. A new neuron whose schemas name their outputs
# these ways needs nothing here; another name is refused at import with the op's name.
_OUTPUTS = {
    "spikes": lambda a, x: x.new_empty(x.shape),
    # saved states, in the accumulation dtype, [0] unless save_h
    "h": lambda a, x: _maybe(x, a["save_h"], acc_dtype(x.dtype)),
    "m": lambda a, x: _maybe(x, a["save_h"], acc_dtype(x.dtype)),
    "v": lambda a, x: _maybe(x, a["return_v"]),
    "grad_x": lambda a, x: x.new_empty(x.shape),
    "grad_v_init": lambda a, x: a["h"].new_empty(a["h"].shape[1:] if a["need_grad_v_init"] else (0,)),
    "grad_q": lambda a, x: a["h"].new_empty(()),  # a learned scalar's gradient, in h's dtype
    "grad_weight": lambda a, x: a["weight"].new_empty(a["weight"].shape),
    "grad_bias": lambda a, x: a["weight"].new_empty(a["weight"].shape[:2]),  # ILC's weight [A, P, P]: [A, P]
}


def _neuron_fake(schema):
    """The fake kernel of one neuron op: its outputs' shapes from its arguments, by name."""
    args = [a.name for a in schema.arguments]
    outs = [r.name for r in schema.returns]
    outs = ["grad_x"] if outs == [""] else outs
    unknown = [o for o in outs if o not in _OUTPUTS]
    if unknown:
        raise RuntimeError(f"spikekern: {schema.name} returns {unknown}, which spikekern/ops/fake_kernels.py has no "
                           f"shape rule for: name its outputs {sorted(_OUTPUTS)} or register its fake kernel there")
    first = "grad_spikes" if schema.name.endswith("_backward") else "x"  # the [T, ...] input the outputs follow

    def fake(*values, **named):
        a = dict(zip(args, values), **named)
        result = tuple(_OUTPUTS[name](a, a[first]) for name in outs)
        return result[0] if len(result) == 1 else result

    return fake


def neuron_ops() -> list[str]:
    """The neuron ops the extension registers: each <name>_forward and <name>_backward but
    spike_linear's (a layer)."""
    names = (n.split("::", 1)[1] for n in torch._C._dispatch_get_all_op_names() if n.startswith(f"{_LIB}::"))
    return sorted(n for n in names if n.endswith(("_forward", "_backward")) and not n.startswith("spike_linear"))


def _register() -> None:
    for op in neuron_ops():
        schema = getattr(torch.ops.spikekern, op).default._schema
        torch.library.register_fake(f"{_LIB}::{op}", _neuron_fake(schema))

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
