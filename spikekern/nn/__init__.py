"""Spiking network modules (multi-step: input [T, B, ...], output [T, B, ...])."""
from . import neurons
from .containers import SeqToANN, reset
from .neurons import *  # noqa: F401,F403  (the neuron modules: neurons.__all__, kept beside them)
from .norm import PopNorm
from .population import PopDecoder, PopSpikeEncoder

__all__ = [*neurons.__all__, "PopNorm", "PopSpikeEncoder", "PopDecoder", "SeqToANN", "reset"]
