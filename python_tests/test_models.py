"""The seed models: same outputs and gradients on every backend as on the reference
(float64 tight, float32 loose), the broadcast first layer of SpikingDQN equal to the naive
T-loop, and clear errors for bad observations."""
import pytest
import torch

import spikekern
from conftest import CPU_FUSED
from spikekern.models import (MinAtarQNet, MLPActor, MLPQFunction, PopSpikeActor, SpikingDQN, SpikingMinAtarQNet,
                              SpikingMLPQNet)

TOL = {torch.float64: dict(rtol=1e-9, atol=1e-9), torch.float32: dict(rtol=1e-4, atol=1e-4)}


def _actor(ilc=True, decode="last-mem", encode="pop-det", neuron="cuba"):
    return PopSpikeActor(obs_dim=5, act_dim=3, enc_pop_dim=6, dec_pop_dim=7, hidden_sizes=[32, 24],
                         mean_range=(-3, 3), std=0.5, spike_ts=5, encode=encode, decode=decode,
                         act_limit=2.0, ilc=ilc, neuron=neuron)


MODELS = {
    "ilc-san": (lambda: _actor(), lambda: torch.randn(9, 5) * 1.5),
    "popsan": (lambda: _actor(ilc=False, decode="fr-mlp"), lambda: torch.randn(9, 5) * 1.5),
    "popsan-lif": (lambda: _actor(ilc=False, decode="fr-mlp", neuron="lif"), lambda: torch.randn(9, 5) * 1.5),
    "ilc-san-lif": (lambda: _actor(neuron="lif"), lambda: torch.randn(9, 5) * 1.5),
    "popsan-plif": (lambda: _actor(ilc=False, decode="fr-mlp", neuron="plif"), lambda: torch.randn(9, 5) * 1.5),
    "ilc-san-plif": (lambda: _actor(neuron="plif"), lambda: torch.randn(9, 5) * 1.5),
    "popsan-clif": (lambda: _actor(ilc=False, decode="fr-mlp", neuron="clif"), lambda: torch.randn(9, 5) * 1.5),
    "ilc-san-max-abs-pop-raw": (lambda: _actor(decode="max-abs-mem", encode="pop-raw"), lambda: torch.randn(9, 5)),
    "pl-sdqn": (lambda: SpikingDQN(4, 44, 44, 6, time_window=4), lambda: torch.randint(0, 256, (3, 4, 44, 44), dtype=torch.uint8)),
    "sdqn": (lambda: SpikingDQN(4, 44, 44, (2, 3), time_window=3, popnorm=False), lambda: torch.rand(3, 4, 44, 44) * 4),
    "mlp-q": (lambda: SpikingMLPQNet(4, 2, hidden_sizes=(64, 32), time_window=6), lambda: torch.randn(7, 4) * 2),
    # MinAtar: [B, 10, 10, C] boolean grids, about a tenth of the cells set
    "minatar-pl-sdqn": (lambda: SpikingMinAtarQNet(7, 5, time_window=4), lambda: torch.rand(6, 10, 10, 7) < 0.1),
    # without PopNorm, 0/1 cells rarely lift the conv output over the threshold of 1: scaled up
    "minatar-sdqn": (lambda: SpikingMinAtarQNet(4, 3, time_window=3, popnorm=False),
                     lambda: (torch.rand(6, 10, 10, 4) < 0.3) * 8.0),
}


def _run(model, obs, backend):
    model.zero_grad()
    with spikekern.use_backend(backend):
        out = model(obs)
    g = torch.Generator().manual_seed(1)
    (out * torch.randn(out.shape, generator=g, dtype=out.dtype)).sum().backward()
    return out.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("backend", CPU_FUSED)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_matches_reference(name, dtype, backend):
    make, make_obs = MODELS[name]
    torch.manual_seed(0)
    model = make().to(dtype)
    obs = make_obs()
    obs = obs if obs.dtype in (torch.uint8, torch.bool) else obs.to(dtype)
    ref_out, ref_grads = _run(model, obs, "reference")
    out, grads = _run(model, obs, backend)
    torch.testing.assert_close(out, ref_out, **TOL[dtype])
    assert grads.keys() == ref_grads.keys() and len(grads) > 0
    for k in ref_grads:
        scale = max(1.0, ref_grads[k].abs().max().item())
        torch.testing.assert_close(grads[k], ref_grads[k], rtol=TOL[dtype]["rtol"], atol=TOL[dtype]["atol"] * scale,
                                   msg=lambda m: f"{k}: {m}")


def test_models_spike():
    # The sizes above must exercise the neurons: some but not all spike.
    torch.manual_seed(0)
    actor = _actor()
    s = actor.hidden_neurons[0](actor.hidden[0](actor.encoder(torch.randn(9, 5))))
    assert 0.02 < s.mean().item() < 0.98


def test_spiking_dqn_broadcast_equals_naive_loop():
    torch.manual_seed(0)
    model = SpikingDQN(4, 44, 44, 5, time_window=4).double()
    obs = torch.rand(3, 4, 44, 44, dtype=torch.float64)

    def naive(model, x):  # the seed's way: the whole network applied at every step
        firsts = torch.stack([model.norm1(model.conv1(x)) for _ in range(model.time_window)])
        s = model.lif1(firsts)
        s = model.lif2(model._conv_step(model.conv2, model.norm2, s))
        s = model.lif3(model._conv_step(model.conv3, model.norm3, s))
        s = model.lif4(model.fc1(s.flatten(2)))
        return model.fc2(s).mean(0)

    out = model(obs)
    out.sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    ref = naive(model, obs)
    ref.sum().backward()
    assert torch.equal(out, ref)
    for g, p in zip(grads, model.parameters()):
        torch.testing.assert_close(g, p.grad, rtol=1e-12, atol=1e-12)


def test_spiking_dqn_atari_shape():
    model = SpikingDQN(4, 84, 84, 6)
    assert model.output_dim == 3136 and model.time_window == 16
    assert model.norm1.normalized_shape == (32, 20, 20) and model.norm3.normalized_shape == (64, 7, 7)
    assert model.lif1.v_threshold == 1.0 and model.lif1.surrogate == "qgate" and model.lif1.detach_reset
    with torch.no_grad():
        q = model(torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8))
    assert q.shape == (2, 6)
    assert isinstance(SpikingDQN(4, 84, 84, 6, popnorm=False).norm1, torch.nn.Identity)


def test_minatar_pl_sdqn_spikes_in_both_layers():
    # PopNorm puts each layer's input on the threshold's scale, so both LIF layers fire
    # from the start (and the equality above tests something).
    torch.manual_seed(0)
    model = SpikingMinAtarQNet(6, 4)
    x = (torch.rand(32, 10, 10, 6) < 0.15).permute(0, 3, 1, 2).float()
    s1 = model.lif1(model.norm1(model.conv(x)).expand(4, -1, -1, -1, -1))
    s2 = model.lif2(model.norm2(model.fc(s1.flatten(2))))
    for s in (s1, s2):
        assert 0.01 < s.mean().item() < 0.99


def test_minatar_layers_are_the_papers():
    # MinAtar's DQN: Conv2d(C, 16, 3, stride 1) - Linear(1024, 128) - Linear(128, actions),
    # and the spiking nets have the same layers (T = 4 by default).
    for model in (MinAtarQNet(7, 5), SpikingMinAtarQNet(7, 5)):
        shapes = [tuple(p.shape) for n, p in model.named_parameters() if "norm" not in n]
        assert shapes == [(16, 7, 3, 3), (16,), (128, 1024), (128,), (5, 128), (5,)]
    assert SpikingMinAtarQNet(7, 5).time_window == 4
    with pytest.raises(ValueError, match=r"\[B, 10, 10, 7\]"):
        MinAtarQNet(7, 5)(torch.zeros(2, 7, 10, 10))


def test_uint8_frames_are_scaled():
    torch.manual_seed(0)
    model = SpikingDQN(4, 44, 44, 3, time_window=2)
    frames = torch.randint(0, 256, (2, 4, 44, 44), dtype=torch.uint8)
    torch.testing.assert_close(model(frames), model(frames.float() / 255))


def test_bad_observations():
    with pytest.raises(ValueError, match=r"frames \[B, 4, 84, 84\]"):
        SpikingDQN(4, 84, 84, 6)(torch.zeros(2, 84, 84, 4))
    with pytest.raises(ValueError, match=r"observations must be \[B, obs_dim=5\]"):
        _actor()(torch.zeros(3, 6))
    with pytest.raises(ValueError, match=r"\[B, 4\]"):
        SpikingMLPQNet(4, 2)(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="unknown decode"):
        _actor(decode="last")
    with pytest.raises(ValueError, match=r"\[B, 5\]"):
        MLPActor(5, 2, (8,), 1.0)(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="too small"):
        SpikingDQN(4, 20, 20, 3)


def test_ann_actor_and_critic():
    actor, q = MLPActor(5, 2, (16, 16), act_limit=2.0), MLPQFunction(5, 2, (16, 16))
    obs = torch.randn(4, 5) * 10
    a = actor(obs)
    assert a.shape == (4, 2) and a.abs().max() <= 2.0
    assert q(obs, a).shape == (4,)


def test_lif_hidden_neuron_is_the_popsan_codes_lif():
    """neuron="lif": v <- 0.75 v (1 - s) + x, s = [v > 0.5], Rect(1) surrogate through the spike
    and the reset, as the PopSAN code family writes its LIF: spikes and input gradients."""
    from spikekern.models.actors import HIDDEN_NEURONS
    from spikekern.backends.spike_fn import SpikeFn

    g = torch.Generator().manual_seed(3)
    x = (torch.randn(6, 40, 30, generator=g, dtype=torch.float64) * 0.6).requires_grad_(True)
    x2 = x.detach().clone().requires_grad_(True)
    v, s, spikes = torch.zeros(40, 30, dtype=torch.float64), torch.zeros(40, 30, dtype=torch.float64), []
    for t in range(6):
        v = v * 0.75 * (1.0 - s) + x2[t]
        s = SpikeFn.apply(v - 0.5, 1, 1.0)
        spikes.append(s)
    ref = torch.stack(spikes)
    out = HIDDEN_NEURONS["lif"]("cpp", None)(x)
    assert torch.equal(out, ref) and 0.05 < out.mean() < 0.5
    w = torch.randn(out.shape, generator=g, dtype=torch.float64)
    (out * w).sum().backward()
    (ref * w).sum().backward()
    torch.testing.assert_close(x.grad, x2.grad, rtol=1e-12, atol=1e-12)


def test_unknown_hidden_neuron_is_refused():
    with pytest.raises(ValueError, match="unknown neuron 'alif'"):
        _actor(neuron="alif")
