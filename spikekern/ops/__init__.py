"""Functional spiking neurons (spikekern.ops.lif, cuba_lif, ilc_cuba_lif, plif, clif, nonspiking_if) and
the linear layer of spike input (spike_linear)."""
from . import neuron_ops
from .neuron_ops import *  # noqa: F401,F403  (the neurons: neuron_ops.__all__, kept beside them)
from . import spike_linear as spike_linear_module
from .spike_linear import set_spike_check, spike_linear
from .surrogate import SURROGATES

__all__ = [*neuron_ops.__all__, "spike_linear", "set_spike_check", "SURROGATES"]
