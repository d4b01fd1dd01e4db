"""spikekern: fused, kernel-accelerated spiking neurons for PyTorch."""
__version__ = "0.1.0"

from ._backend import available_backends, get_backend, set_backend, use_backend, why_unavailable
from . import ops
from . import nn
from . import models

__all__ = ["__version__", "available_backends", "get_backend", "set_backend", "use_backend", "why_unavailable",
           "ops", "nn", "models"]
