"""What a network does while it is evaluated: the firing rate of each spiking layer and, for
continuous actions, how much the actions vary and how many sit at their bound.

These are the numbers that tell a spiking actor that learns from one that cannot: a neuron
that never fires passes no signal on, and one whose input is far above threshold fires at
every step with a surrogate gradient of zero (pinned/<layer> counts both kinds); an actor
whose output layer is pinned outputs the same action whatever it observes (action_std 0),
often at the bound (action_saturated near 1), where tanh passes back no gradient either. The
trainers log them in progress.csv at every evaluation, and `spikekern eval --activity` prints
them for a saved agent.
"""
from __future__ import annotations

import torch
from torch import nn

from ..nn import CLIF, CUBALIF, LIF, PLIF

# The modules whose output is spikes (ILCCUBALIF is a CUBALIF, IFEncoderNeuron a LIF).
# NonSpikingIF, the decoders' integrator, outputs potentials and is left out.
SPIKING = (LIF, CUBALIF, PLIF, CLIF)

# An action component counts as saturated within this fraction of its bound.
SATURATION = 0.99

# How summary()'s keys (progress.csv's activity columns) begin: "rate/<layer>",
# "pinned/<layer>", "action_std", "action_saturated".
COLUMN_PREFIXES = ("rate/", "pinned/", "action_")


def spiking_layers(net: nn.Module) -> dict[str, nn.Module]:
    """The spiking modules of net by their name in it ("hidden_neurons.0")."""
    return {name: m for name, m in net.named_modules() if isinstance(m, SPIKING)}


def fields(net: nn.Module, act_limit: float | None) -> list[str]:
    """The columns Activity(net, act_limit).summary() fills, in order."""
    layers = [f"{kind}/{name}" for name in spiking_layers(net) for kind in ("rate", "pinned")]
    return layers + (["action_std", "action_saturated"] if act_limit is not None else [])


class Activity:
    """Records, inside `with`, the spikes of every spiking layer of `net` (forward hooks) and,
    when act_limit is given, net's outputs as actions in [-act_limit, act_limit].

    summary(): rate/<layer>, the mean of its spikes over every forward (the fraction of its
    neurons firing per time step); pinned/<layer>, the fraction of its neurons that fired at
    no time step or at every one (whatever the input, they pass nothing on about it);
    action_std, the standard deviation of each action component over every recorded step,
    averaged over the components; action_saturated, the fraction of action components with
    |a| >= 0.99 act_limit. A quantity with nothing recorded is NaN.

    A spiking module's output is [T, B, ...]: its neurons are the dimensions after T and B."""

    def __init__(self, net: nn.Module, act_limit: float | None = None):
        self.net, self.act_limit = net, None if act_limit is None else float(act_limit)
        self.layers = spiking_layers(net)
        self.spikes: dict[str, torch.Tensor | None] = {name: None for name in self.layers}  # per neuron
        self.counts = {name: 0 for name in self.layers}  # time steps x samples seen
        self.actions: list[torch.Tensor] = []
        self._hooks = []

    def _count(self, name: str):
        def hook(module, inputs, out):
            # summed where the spikes are (no copy to the host at every forward; summary() does it)
            steps = out.detach().reshape(out.shape[0] * out.shape[1], -1)
            total = steps.sum(dim=0, dtype=torch.float64)
            if self.spikes[name] is None:
                self.spikes[name] = total
            else:
                self.spikes[name] += total
            self.counts[name] += steps.shape[0]
        return hook

    def _action(self, module, inputs, out):
        self.actions.append(out.detach().reshape(-1, out.shape[-1]).to("cpu", torch.float64))

    def __enter__(self) -> "Activity":
        self._hooks = [m.register_forward_hook(self._count(name)) for name, m in self.layers.items()]
        if self.act_limit is not None:
            self._hooks.append(self.net.register_forward_hook(self._action))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []

    def summary(self) -> dict[str, float]:
        nan = float("nan")
        out = {}
        for name in self.layers:
            if not self.counts[name]:
                out[f"rate/{name}"] = out[f"pinned/{name}"] = nan
                continue
            per_neuron = self.spikes[name].cpu() / self.counts[name]
            out[f"rate/{name}"] = float(per_neuron.mean())
            out[f"pinned/{name}"] = float(((per_neuron == 0) | (per_neuron == 1)).double().mean())
        if self.act_limit is not None:
            a = torch.cat(self.actions) if self.actions else torch.empty(0, 1, dtype=torch.float64)
            out["action_std"] = float(a.std(dim=0, unbiased=False).mean()) if len(a) else nan
            out["action_saturated"] = (float((a.abs() >= SATURATION * self.act_limit).double().mean()) if len(a)
                                       else nan)
        return out


def layer_text(rate: float, pinned: float) -> str:
    """A layer's two numbers in a table cell: "0.123 (45%)", its rate and pinned share."""
    return f"{rate:.3f} ({100 * pinned:.0f}%)"


def describe(summary: dict[str, float]) -> str:
    """summary() as lines for a terminal: one per layer, then the actions'."""
    lines = [f"  {k.removeprefix('rate/'):<28} fires {v:.3f} of its neurons per time step; "
             f"{100 * summary['pinned/' + k.removeprefix('rate/')]:.1f}% of them at no step or at every one"
             for k, v in summary.items() if k.startswith("rate/")]
    if "action_std" in summary:
        lines.append(f"  actions: std over steps {summary['action_std']:.3f} (mean over components), "
                     f"{100 * summary['action_saturated']:.1f}% of components at their bound")
    return "\n".join(lines) if lines else "  (no spiking layers)"
