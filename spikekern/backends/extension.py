"""Loading the compiled extension spikekern._C (CPU kernels, and CUDA kernels where built)."""
from __future__ import annotations

import torch

try:
    from .. import _C  # noqa: F401  (loading registers the torch.ops.spikekern operators)

    _load_error: str | None = None
except ImportError as exc:  # the package was not built or installed with its extension
    _load_error = (
        f"the compiled extension spikekern._C could not be loaded ({exc}); "
        "build it with `pip install -e . --no-build-isolation`"
    )


def _cpu_isa_error() -> str | None:
    """Why the CPU kernels cannot run (a SPIKEKERN_CPU_ISA this CPU or build lacks), or None."""
    try:
        torch.ops.spikekern.cpu_isa()
    except RuntimeError as exc:
        return str(exc).splitlines()[0]
    return None


def why_unavailable(device_type: str) -> str | None:
    if _load_error is not None:
        return _load_error
    if device_type == "cpu" and _cpu_isa_error() is not None:
        return _cpu_isa_error()
    if device_type == "cuda":
        if not torch._C._dispatch_has_kernel_for_dispatch_key("spikekern::lif_forward", "CUDA"):
            return "this build of spikekern._C has no CUDA kernels (torch without CUDA or nvcc missing at build time)"
        if not torch.cuda.is_available():
            return "no CUDA device is available"
    return None
