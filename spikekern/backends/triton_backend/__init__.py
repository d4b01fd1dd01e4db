"""Triton kernels (backend "triton"): fused LIF, CUBA-LIF, ILC-CUBA-LIF, PLIF and CLIF, forward and
backward, registered with torch.library.triton_op so torch.compile can trace into them.

On CPU tensors they run only under the Triton interpreter (TRITON_INTERPRET=1), which is how
the test suite checks them on machines without a GPU. Triton is imported on first use.
"""
from __future__ import annotations

import importlib
import importlib.util
import os

def why_unavailable(device_type: str) -> str | None:
    if importlib.util.find_spec("triton") is None:
        return "triton is not installed (pip install triton)"
    if device_type == "cuda":
        import torch

        return None if torch.cuda.is_available() else "no CUDA device is available"
    if device_type == "cpu":
        if os.environ.get("TRITON_INTERPRET") != "1":
            return "Triton runs CPU tensors only in its interpreter (set TRITON_INTERPRET=1 before importing triton; for testing)"
        return None
    return f"Triton kernels do not run on {device_type} tensors"


def __getattr__(name: str):
    # spikekern.backends.triton_backend.lif_forward etc. (ops.py's public names): import the
    # kernels, and Triton, on first use.
    if name.startswith("_"):
        raise AttributeError(name)
    ops = importlib.import_module(".ops", __name__)
    if name not in ops.__all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(ops, name)
