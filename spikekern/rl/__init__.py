"""Reinforcement-learning trainers: TD3 for ILC-SAN / PopSAN / ANN actors and DQN for
Spiking-DQN / PL-SDQN. Imports gymnasium lazily: install the `[rl]` extra to use them.

`load_agent(run_dir)` loads a trained agent (a run's model.pt, safely) as a Policy with
`act(obs)`."""
from .agents import Policy, load_agent

__all__ = ["load_agent", "Policy"]
