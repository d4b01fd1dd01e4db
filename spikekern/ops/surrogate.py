"""The surrogate table of NEURONS.md §5: names, the codes every kernel uses (the C++
enum SurrogateKind in csrc/spikekern/neuron_args.h and the Triton kernels' KIND are checked
against this table by python_tests/test_reference.py) and default alphas. psi(u) in PyTorch
lives with the reference loops (spikekern/backends/spike_fn.py)."""
from __future__ import annotations

import math

from ..backends.spike_fn import SpikeFn, psi  # noqa: F401  (re-exported)

# name -> (code used by the compiled kernels, default alpha)
SURROGATES: dict[str, tuple[int, float]] = {
    "qgate": (0, 2.0),
    "rect": (1, 1.0),
    "sigmoid": (2, 4.0),
    "atan": (3, 2.0),
    "pass": (4, 1.0),
}


def resolve(name: str, alpha: float | None) -> tuple[int, float]:
    """(kernel code, alpha) for a surrogate name; alpha=None means its default."""
    if not isinstance(name, str) or name not in SURROGATES:
        raise ValueError(f"unknown surrogate {name!r}; choose one of {sorted(SURROGATES)}")
    code, default = SURROGATES[name]
    alpha = default if alpha is None else float(alpha)
    if not alpha > 0 or math.isinf(alpha):
        raise ValueError(f"surrogate alpha must be a positive finite number, got {alpha}")
    return code, alpha
