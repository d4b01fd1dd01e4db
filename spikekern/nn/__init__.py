"""Spiking network modules (multi-step: input [T, B, ...], output [T, B, ...])."""
from .containers import SeqToANN, reset
from .neurons import CLIF, CUBALIF, IFEncoderNeuron, ILCCUBALIF, LIF, PLIF, NonSpikingIF
from .norm import PopNorm
from .population import PopDecoder, PopSpikeEncoder

__all__ = ["LIF", "CUBALIF", "ILCCUBALIF", "PLIF", "CLIF", "IFEncoderNeuron", "NonSpikingIF", "PopNorm",
           "PopSpikeEncoder", "PopDecoder", "SeqToANN", "reset"]
