"""The models of the seed tutorials, built from spikekern.nn."""
from .actors import MLPActor, MLPQFunction, PopSpikeActor
from .spiking_dqn import AtariQNet, MLPQNet, SpikingDQN, SpikingMLPQNet
from .minatar import MinAtarQNet, SpikingMinAtarQNet

__all__ = ["SpikingDQN", "SpikingMLPQNet", "AtariQNet", "MLPQNet", "PopSpikeActor", "MLPActor", "MLPQFunction",
           "MinAtarQNet", "SpikingMinAtarQNet"]
