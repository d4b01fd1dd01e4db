"""Actors and critics for TD3: PopSpikeActor (ILC-SAN and PopSAN, seed 001), and the ANN
MLPActor and MLPQFunction."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..nn import CLIF, CUBALIF, ILCCUBALIF, LIF, PLIF, PopDecoder, PopSpikeEncoder
from ..nn.linear import linear
from ..nn.seeds import check_seeds, seed_shape

# The spiking neurons PopSpikeActor's hidden layers (and its output layer without ILC) can
# have. "cuba": the seed's CUBA-LIF (SpikingJelly CUBALIFNode defaults). "lif": the same
# neuron without its current, as the PopSAN code family (and the Proxy Target code) writes
# its LIF: v <- 0.75 v (1 - s) + x, fire above 0.5, Rect(1) surrogate, nothing detached;
# here LIF(tau=4, decay_input=False) (a = 1 - 1/4), hard reset to 0, threshold 0.5.
HIDDEN_NEURONS = {
    "cuba": lambda backend, seeds: CUBALIF(backend=backend),
    "lif": lambda backend, seeds: LIF(tau=4.0, decay_input=False, v_threshold=0.5, v_reset=0.0, surrogate="rect",
                                      alpha=1.0, backend=backend),
    # "lif" with its time constant learned per layer (and per seed), starting from the same tau
    "plif": lambda backend, seeds: PLIF(init_tau=4.0, decay_input=False, v_threshold=0.5, v_reset=0.0,
                                        surrogate="rect", alpha=1.0, backend=backend, seeds=seeds),
    # "lif" (the same leak, 1 - 1/4, threshold and surrogate) with the complementary potential of
    # Huang et al. (ICML 2024) in its (soft) reset: NEURONS.md §9
    "clif": lambda backend, seeds: CLIF(tau=4.0, v_threshold=0.5, surrogate="rect", alpha=1.0, backend=backend),
}


class PopSpikeActor(nn.Module):
    """obs [B, obs_dim] -> action [B, act_dim].

    Population encoder -> [Linear-CUBALIF] x hidden -> Linear -> ILC-CUBA-LIF (CUBA-LIF when
    ilc=False) -> population decoder -> act_limit * tanh. ILC-SAN is the default;
    ilc=False, decode="fr-mlp" is PopSAN. neuron: the hidden layers' neuron (and the output
    layer's without ILC), a key of HIDDEN_NEURONS.

    seeds=K: K independent actors in one module (spikekern.nn.seeds), obs [B, K, obs_dim] ->
    [B, K, act_dim].
    """

    def __init__(self, obs_dim, act_dim, enc_pop_dim, dec_pop_dim, hidden_sizes, mean_range, std,
                 spike_ts, encode="pop-det", decode="last-mem", act_limit=1.0, ilc=True, backend=None, seeds=None,
                 neuron="cuba"):
        super().__init__()
        if neuron not in HIDDEN_NEURONS:
            raise ValueError(f"unknown neuron {neuron!r}; choose one of {sorted(HIDDEN_NEURONS)}")
        self.obs_dim, self.act_dim, self.act_limit = int(obs_dim), int(act_dim), float(act_limit)
        self.seeds = check_seeds(seeds)
        self.encoder = PopSpikeEncoder(obs_dim, enc_pop_dim, spike_ts, mean_range, std, mode=encode, backend=backend,
                                       seeds=seeds)
        sizes = [obs_dim * enc_pop_dim, *hidden_sizes]
        # Every layer's input is spikes (the encoder's, unless it passes its fields on as
        # analog input, "pop-raw"; then the hidden neurons'): spike_linear where it gains.
        fed_spikes = [encode != "pop-raw"] + [True] * len(hidden_sizes)
        self.hidden = nn.ModuleList(linear(a, b, seeds, spikes=spk, backend=backend)
                                    for a, b, spk in zip(sizes[:-1], sizes[1:], fed_spikes))
        self.hidden_neurons = nn.ModuleList(HIDDEN_NEURONS[neuron](backend, seeds) for _ in hidden_sizes)
        self.out = linear(sizes[-1], act_dim * dec_pop_dim, seeds, spikes=True, backend=backend)
        self.out_neurons = (ILCCUBALIF(act_dim, dec_pop_dim, backend=backend, seeds=seeds) if ilc
                            else HIDDEN_NEURONS[neuron](backend, seeds))
        self.decoder = PopDecoder(act_dim, dec_pop_dim, spike_ts, decode, seeds=seeds)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        s = self.encoder(obs)
        for layer, neuron in zip(self.hidden, self.hidden_neurons):
            s = neuron(layer(s))            # nn.Linear over [T, B, F] is one matmul over T*B
        s = self.out_neurons(self.out(s))
        return self.act_limit * torch.tanh(self.decoder(s))


def mlp(sizes: Sequence[int], activation=nn.ReLU, output_activation=nn.Identity, seeds=None) -> nn.Sequential:
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [linear(a, b, seeds), activation() if i < len(sizes) - 2 else output_activation()]
    return nn.Sequential(*layers)


class MLPActor(nn.Module):
    """The ANN actor of TD3: obs -> act_limit * tanh(MLP(obs)). seeds=K: K actors,
    [B, K, obs_dim] -> [B, K, act_dim]."""

    def __init__(self, obs_dim, act_dim, hidden_sizes, act_limit, seeds=None):
        super().__init__()
        self.obs_dim, self.seeds = int(obs_dim), check_seeds(seeds)
        self.pi = mlp([obs_dim, *hidden_sizes, act_dim], nn.ReLU, nn.Tanh, seeds=seeds)
        self.act_limit = float(act_limit)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        seeds = seed_shape(self.seeds)
        if obs.dim() != 2 + len(seeds) or tuple(obs.shape[1:]) != (*seeds, self.obs_dim):
            raise ValueError(f"MLPActor expects observations [B, {''.join(f'{k}, ' for k in seeds)}{self.obs_dim}], "
                             f"got {tuple(obs.shape)}")
        return self.act_limit * self.pi(obs)


class MLPQFunction(nn.Module):
    """A TD3 critic: Q(obs, act) -> [B]. seeds=K: K critics, [B, K, *] -> [B, K]."""

    def __init__(self, obs_dim, act_dim, hidden_sizes, seeds=None):
        super().__init__()
        self.obs_dim, self.act_dim, self.seeds = int(obs_dim), int(act_dim), check_seeds(seeds)
        self.q = mlp([obs_dim + act_dim, *hidden_sizes, 1], seeds=seeds)

    def forward(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        if obs.shape[-1] != self.obs_dim or act.shape[-1] != self.act_dim:
            raise ValueError(f"MLPQFunction expects obs [B, {self.obs_dim}] and act [B, {self.act_dim}], "
                             f"got {tuple(obs.shape)} and {tuple(act.shape)}")
        return self.q(torch.cat([obs, act], dim=-1)).squeeze(-1)
