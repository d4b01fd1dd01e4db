"""Peak tensor memory of one forward+backward, per implementation.

A TorchDispatchMode sees every tensor each op creates (a fused op counts as one op, so the
buffers it returns are counted and its internal scratch is not) and tracks the bytes of
tensor storage alive at once; storages are dropped from the count when they are freed.
The peak is measured above what was alive before the call (the inputs and the upstream
gradient), so it counts activations, saved tensors, outputs and gradients.
"""
from __future__ import annotations

import weakref
from typing import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class LiveTensorBytes(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.current = 0
        self.peak = 0
        self._alive: set[int] = set()

    def _free(self, key: int, nbytes: int) -> None:
        if key in self._alive:
            self._alive.discard(key)
            self.current -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                storage = t.untyped_storage()
                key = storage.data_ptr()
                if key and key not in self._alive:
                    nbytes = storage.nbytes()
                    self._alive.add(key)
                    self.current += nbytes
                    self.peak = max(self.peak, self.current)
                    weakref.finalize(storage, self._free, key, nbytes)
        return out


def peak_fwd_bwd_bytes(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, grad: torch.Tensor) -> int:
    """Peak bytes of tensors created and alive at once during fn(x) and its backward."""
    xg = x.detach().requires_grad_(True)
    mode = LiveTensorBytes()
    with mode:
        out = fn(xg)
        (g,) = torch.autograd.grad(out, [xg], grad)
        del out, g
    return mode.peak
