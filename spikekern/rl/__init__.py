"""Reinforcement-learning trainers: TD3 for ILC-SAN / PopSAN / ANN actors and DQN for
Spiking-DQN / PL-SDQN. Imports gymnasium lazily: install the `[rl]` extra to use them."""
