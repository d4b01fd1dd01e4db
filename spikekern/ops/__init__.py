"""Functional spiking neurons: spikekern.ops.lif, cuba_lif, ilc_cuba_lif, nonspiking_if."""
from .neuron_ops import DECODES, cuba_lif, ilc_cuba_lif, lif, nonspiking_if
from .surrogate import SURROGATES

__all__ = ["lif", "cuba_lif", "ilc_cuba_lif", "nonspiking_if", "SURROGATES", "DECODES"]
