"""rl/activity.py: the firing rates and action statistics the trainers log at each evaluation
and `spikekern eval --activity` prints, against hand-computed values."""
import math

import pytest
import torch
from torch import nn

from spikekern.nn import LIF, NonSpikingIF
from spikekern.rl import activity


class TwoLayers(nn.Module):
    """Input [T, B, 3] -> a LIF layer -> a non-spiking integrator -> a LIF layer; the action is
    act_limit * tanh of the second layer's spike count minus a fixed offset."""

    def __init__(self, act_limit=2.0):
        super().__init__()
        self.first, self.integrator, self.second = LIF(tau=2.0), NonSpikingIF("last-mem"), LIF(tau=2.0)
        self.act_limit = act_limit

    def forward(self, x):
        s1 = self.first(x)
        self.integrator(s1)              # not spikes: must not be counted
        s2 = self.second(2.0 * s1)
        return self.act_limit * torch.tanh(s2.sum(dim=0) - 1.0)


def test_rates_and_actions_match_a_hand_count():
    torch.manual_seed(0)
    net = TwoLayers()
    inputs = [torch.rand(4, 5, 3) * 3 for _ in range(3)]
    with torch.no_grad(), activity.Activity(net, act_limit=2.0) as rec:
        actions = torch.cat([net(x) for x in inputs])
    summary = rec.summary()
    assert list(summary) == activity.fields(net, 2.0) == ["rate/first", "pinned/first", "rate/second",
                                                          "pinned/second", "action_std", "action_saturated"]
    # the same spikes, counted by hand: per neuron over every time step of every sample
    with torch.no_grad():
        s1 = [net.first(x) for x in inputs]
        s2 = [net.second(2.0 * s) for s in s1]
    for name, spikes in (("first", s1), ("second", s2)):
        per_neuron = torch.cat(spikes, dim=1).double().mean(dim=(0, 1))
        assert summary[f"rate/{name}"] == pytest.approx(float(per_neuron.mean()), abs=1e-12)
        pinned = sum(1 for r in per_neuron.tolist() if r in (0.0, 1.0)) / per_neuron.numel()
        assert summary[f"pinned/{name}"] == pinned
    a = actions.double()
    assert summary["action_std"] == pytest.approx(float(a.std(dim=0, unbiased=False).mean()), abs=1e-12)
    assert summary["action_saturated"] == pytest.approx(float((a.abs() >= 0.99 * 2.0).double().mean()), abs=1e-12)
    assert 0 < summary["rate/first"] < 1, "the test's inputs should make some neurons fire and others not"


def test_pinned_counts_neurons_at_no_step_or_every_one():
    # three neurons of a layer of [T, B, 3]: one fires at every step, one never, one sometimes;
    # and a layer with more than one neuron dimension ([T, B, 2, 2], as after a convolution)
    class Fixed(nn.Module):
        def __init__(self, pattern):
            super().__init__()
            self.lif, self.pattern = LIF(), pattern

        def forward(self, x):
            return self.lif(self.pattern.expand(*x.shape[:2], *self.pattern.shape[2:]))

    sometimes = torch.tensor([[[5.0, -5.0, 5.0]], [[5.0, -5.0, -5.0]]])  # [T=2, 1, 3]
    net = Fixed(sometimes)
    with activity.Activity(net) as rec:
        net(torch.zeros(2, 4))
    assert rec.summary()["pinned/lif"] == pytest.approx(2 / 3)
    assert rec.summary()["rate/lif"] == pytest.approx(3 / 6)
    grid = Fixed(torch.tensor([[[[5.0, -5.0], [5.0, 5.0]]]]))  # [T=1, 1, 2, 2]: every neuron pinned
    with activity.Activity(grid) as rec:
        grid(torch.zeros(1, 3))
    assert rec.summary() == {"rate/lif": 0.75, "pinned/lif": 1.0}


def test_hooks_are_removed_on_exit_and_nothing_recorded_is_nan():
    net = TwoLayers()
    with activity.Activity(net, act_limit=2.0) as rec:
        pass
    assert all(math.isnan(v) for v in rec.summary().values())
    net(torch.ones(2, 1, 3))  # after the block: counted nowhere
    assert rec.counts == {"first": 0, "second": 0} and rec.spikes == {"first": None, "second": None}
    assert rec.actions == []
    assert not net.first._forward_hooks and not net._forward_hooks


def test_a_constant_actor_at_its_bound():
    # what a collapsed spiking actor looks like: the same action, pinned at the bound, every step
    class Constant(nn.Module):
        def forward(self, x):
            return torch.tensor([[1.0, 0.3]]).expand(x.shape[0], 2)

    with activity.Activity(Constant(), act_limit=1.0) as rec:
        for _ in range(5):
            rec.net(torch.zeros(3, 4))
    assert rec.summary() == {"action_std": 0.0, "action_saturated": 0.5}


def test_discrete_agents_record_rates_only():
    net = nn.Sequential(nn.Linear(3, 4), LIF())
    assert activity.fields(net, None) == ["rate/1", "pinned/1"]
    with activity.Activity(net) as rec:
        net(torch.full((2, 1, 3), 100.0))
    assert set(rec.summary()) == {"rate/1", "pinned/1"}
    assert "fires" in activity.describe(rec.summary()) and "actions" not in activity.describe(rec.summary())
