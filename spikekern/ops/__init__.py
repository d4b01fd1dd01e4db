"""Functional spiking neurons (spikekern.ops.lif, cuba_lif, ilc_cuba_lif, plif, clif, nonspiking_if) and
the linear layer of spike input (spike_linear)."""
from .neuron_ops import DECODES, clif, cuba_lif, ilc_cuba_lif, lif, nonspiking_if, plif
from . import spike_linear as spike_linear_module
from .spike_linear import set_spike_check, spike_linear
from .surrogate import SURROGATES

__all__ = ["lif", "cuba_lif", "ilc_cuba_lif", "plif", "clif", "nonspiking_if", "spike_linear", "set_spike_check", "SURROGATES",
           "DECODES"]
