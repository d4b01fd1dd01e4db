"""The models of the seed tutorials, built from spikekern.nn."""
from .actors import MLPActor, MLPQFunction, PopSpikeActor
from .dqn import SpikingDQN, SpikingMLPQNet

__all__ = ["SpikingDQN", "SpikingMLPQNet", "PopSpikeActor", "MLPActor", "MLPQFunction"]
