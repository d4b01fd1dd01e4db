"""Modules with a seed dimension (spikekern.nn.seeds): seed k of a stacked module computes what
the single module with seed k's parameters computes, forward and backward, on every backend;
with one seed, bit for bit."""
import pytest
import torch
from hypothesis import given, settings, strategies as st

from helpers import DRAWN
from spikekern.models import MLPActor, MLPQFunction, PopSpikeActor
from spikekern.nn import ILCCUBALIF, PopDecoder, PopSpikeEncoder
from spikekern.nn.seeds import SeedLinear, seed_linear, stack_states, unstack_state
from spikekern.rl.normalize import RunningNorm

F64 = dict(rtol=1e-10, atol=1e-12)


def per_seed_linear(x, w, b):
    return torch.stack([torch.nn.functional.linear(x[..., k, :], w[k], None if b is None else b[k])
                        for k in range(w.shape[0])], dim=-2)


@settings(max_examples=40, deadline=None)
@given(K=st.integers(1, 5), lead=st.lists(st.integers(0, 4), min_size=1, max_size=3), i=st.integers(1, 9),
       o=st.integers(1, 9), bias=st.booleans(), layout=st.sampled_from(["contiguous", "strided"]),
       seed=st.integers(0, 2**31 - 1))
def test_seed_linear_is_each_seeds_linear(K, lead, i, o, bias, layout, seed):
    DRAWN.append(f"K={K} lead={lead} in={i} out={o} bias={bias} layout={layout} seed={seed}")
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*lead, K, 2 * i if layout == "strided" else i, generator=g, dtype=torch.float64)
    x = x[..., ::2] if layout == "strided" else x
    w = torch.randn(K, o, i, generator=g, dtype=torch.float64)
    b = torch.randn(K, o, generator=g, dtype=torch.float64) if bias else None
    leaves = [t.clone().requires_grad_(True) for t in (x, w) + ((b,) if bias else ())]
    refs = [t.clone().requires_grad_(True) for t in (x, w) + ((b,) if bias else ())]
    y = seed_linear(*leaves, *(() if bias else (None,)))
    r = per_seed_linear(*refs, *(() if bias else (None,)))
    torch.testing.assert_close(y, r, **F64)
    weights = torch.randn(r.shape, generator=g, dtype=torch.float64)
    (y * weights).sum().backward()
    (r * weights).sum().backward()
    for got, ref, name in zip(leaves, refs, ("x", "weight", "bias")):
        torch.testing.assert_close(got.grad, ref.grad, **F64, msg=lambda m: f"grad of {name}: {m}")


def test_seed_linear_gradcheck_and_one_seed_is_linear_bit_for_bit():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(3, 2, 4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, 5, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(seed_linear, (x, w, b))
    lin = torch.nn.Linear(7, 6)
    one = SeedLinear(7, 6, seeds=1)
    one.load_state_dict(stack_states([lin.state_dict()]))
    x = torch.randn(50, 7)
    assert torch.equal(one(x[:, None])[:, 0], lin(x))


@pytest.mark.parametrize("backend", ["reference", "cpp"])
@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("density", [0.02, 0.1, 0.5])
def test_spike_seed_linear_is_each_seeds_linear(backend, K, density):
    """SeedLinear(spikes=True) on a layer wide enough for one spike_linear per seed (the sparse
    kernels below their crossover, the dense product above it) equals each seed's F.linear,
    with every gradient."""
    g = torch.Generator().manual_seed(11)
    layer = SeedLinear(131, 257, seeds=K, spikes=True, backend=backend).double()
    assert layer.per_seed_spikes() and not SeedLinear(127, 257, seeds=K, spikes=True).per_seed_spikes()
    x = (torch.rand(3, 41, K, 131, generator=g) < density).double().requires_grad_(True)
    ref_x = x.detach().clone().requires_grad_(True)
    w, b = (p.detach().clone().requires_grad_(True) for p in (layer.weight, layer.bias))
    y, r = layer(x), per_seed_linear(ref_x, w, b)
    torch.testing.assert_close(y, r, **F64)
    weights = torch.randn(r.shape, generator=g, dtype=torch.float64)
    (y * weights).sum().backward()
    (r * weights).sum().backward()
    for got, ref, name in ((x, ref_x, "x"), (layer.weight, w, "weight"), (layer.bias, b, "bias")):
        torch.testing.assert_close(got.grad, ref.grad, **F64, msg=lambda m: f"{backend}, K={K}, grad of {name}: {m}")


def test_seed_linear_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match=r"x must be \[\.\.\., K, in\]"):
        seed_linear(torch.randn(4, 3, 5), torch.randn(2, 6, 5))


SPIKING = ("ilc-san", "popsan", "ilc-san-wide", "popsan-plif", "popsan-clif")


def make(kind: str, seeds=None, backend="cpp"):
    if kind in SPIKING:
        # -wide: a second hidden layer wide enough to run spike_linear once per seed; -plif: PLIF
        # hidden neurons (and output neurons without ILC), one learned w per seed; -clif: CLIF
        ilc, hidden = not kind.startswith("popsan"), [260, 256] if kind.endswith("-wide") else [16, 12]
        return PopSpikeActor(3, 2, 10, 10, hidden, (-3, 3), 0.15, 5, decode="last-mem" if ilc else "fr-mlp",
                             act_limit=2.0, ilc=ilc, backend=backend, seeds=seeds,
                             neuron=kind[-4:] if kind.endswith(("-plif", "-clif")) else "cuba")
    if kind == "ann":
        return MLPActor(3, 2, (16, 12), 2.0, seeds=seeds)
    return MLPQFunction(3, 2, (16, 12), seeds=seeds)


def call(net, obs, act):
    return net(obs, act) if isinstance(net, MLPQFunction) else net(obs)


@pytest.mark.parametrize("backend", ["reference", "cpp"])
@pytest.mark.parametrize("kind", [*SPIKING, "ann", "critic"])
def test_stacked_model_is_each_seeds_model(kind, backend):
    """K = 3 models in one: outputs and every parameter gradient equal the three singles'
    (float64); the state dicts round-trip through stack_states / unstack_state."""
    K, B = 3, 7
    torch.manual_seed(11)
    singles = [make(kind, backend=backend).double() for _ in range(K)]
    stacked = make(kind, seeds=K, backend=backend).double()
    stacked.load_state_dict(stack_states([m.state_dict() for m in singles]))
    obs = torch.randn(B, K, 3, dtype=torch.float64)
    act = torch.randn(B, K, 2, dtype=torch.float64)
    y = call(stacked, obs, act)
    (y * torch.linspace(-1, 1, y.numel(), dtype=torch.float64).view(y.shape)).sum().backward()
    weights = torch.linspace(-1, 1, y.numel(), dtype=torch.float64).view(y.shape)
    for k, m in enumerate(singles):
        yk = call(m, obs[:, k], act[:, k])
        torch.testing.assert_close(y[:, k], yk, **F64)
        (yk * weights[:, k]).sum().backward()
        for (name, p), q in zip(m.named_parameters(), stacked.parameters()):
            torch.testing.assert_close(q.grad[k], p.grad, **F64, msg=lambda msg: f"seed {k} grad of {name}: {msg}")
        for name, t in unstack_state(stacked.state_dict(), k).items():
            assert torch.equal(t, m.state_dict()[name]), name
    if kind in SPIKING:  # spikes identical where the potentials are: decoder input
        s_stacked = stacked.out_neurons(stacked.out(stacked.hidden_neurons[-1](stacked.hidden[-1](
            stacked.hidden_neurons[0](stacked.hidden[0](stacked.encoder(obs)))))))
        for k, m in enumerate(singles):
            s_k = m.out_neurons(m.out(m.hidden_neurons[-1](m.hidden[-1](m.hidden_neurons[0](m.hidden[0](
                m.encoder(obs[:, k])))))))
            assert torch.equal(s_stacked[:, :, k], s_k)


@pytest.mark.parametrize("kind", ["ilc-san", "popsan", "popsan-plif", "popsan-clif", "ann", "critic"])
def test_one_seed_is_the_single_model_bit_for_bit(kind):
    torch.manual_seed(2)
    single = make(kind)
    one = make(kind, seeds=1)
    one.load_state_dict(stack_states([single.state_dict()]))
    obs, act = torch.randn(9, 3), torch.randn(9, 2)
    assert torch.equal(call(one, obs[:, None], act[:, None])[:, 0], call(single, obs, act))


def test_population_layers_and_ilc_check_the_seed_dimension():
    with pytest.raises(ValueError, match=r"observations must be \[B, 2, obs_dim=3\]"):
        PopSpikeEncoder(3, 4, 5, (-1, 1), 0.2, seeds=2)(torch.randn(4, 3))
    with pytest.raises(ValueError, match=r"PopDecoder expects \[T, B, 2, act_dim\*pop_dim=6\]"):
        PopDecoder(2, 3, 5, seeds=2)(torch.randn(5, 4, 6))
    with pytest.raises(ValueError, match=r"ILCCUBALIF\(seeds=2\) expects \[T, B, 2, 6\]"):
        ILCCUBALIF(2, 3, seeds=2)(torch.randn(5, 4, 6))
    with pytest.raises(ValueError, match="seeds must be a positive int"):
        MLPActor(3, 2, (4,), 1.0, seeds=0)


def test_running_norm_keeps_each_seeds_statistics():
    g = torch.Generator().manual_seed(3)
    singles = [RunningNorm(4) for _ in range(3)]
    stacked = RunningNorm(4, seeds=3)
    for _ in range(20):
        obs = torch.randn(3, 4, generator=g, dtype=torch.float64) * torch.tensor([1.0, 5.0, 0.1]).view(3, 1)
        stacked.update(obs.numpy())
        for k, n in enumerate(singles):
            n.update(obs[k].numpy())
    for k, n in enumerate(singles):
        for name in ("mean", "var", "count"):
            assert torch.equal(getattr(stacked, name)[k], getattr(n, name)), name
    x = torch.randn(6, 3, 4, generator=g)
    y = stacked(x)
    for k, n in enumerate(singles):
        assert torch.equal(y[:, k], n(x[:, k]))


def make_q(kind: str, seeds=None):
    from spikekern.models import AtariQNet, MinAtarQNet, MLPQNet, SpikingDQN, SpikingMinAtarQNet, SpikingMLPQNet

    return {"minatar-dqn": lambda: MinAtarQNet(4, 3, seeds=seeds),
            "minatar-pl-sdqn": lambda: SpikingMinAtarQNet(4, 3, time_window=3, backend="cpp", seeds=seeds),
            "mlp-dqn": lambda: MLPQNet(5, 2, (16, 8), seeds=seeds),
            "mlp-pl-sdqn": lambda: SpikingMLPQNet(5, 2, (16, 8), time_window=3, popnorm=True, backend="cpp",
                                                  seeds=seeds),
            "atari-dqn": lambda: AtariQNet(2, 36, 36, 3, seeds=seeds),
            "atari-pl-sdqn": lambda: SpikingDQN(2, 36, 36, 3, time_window=2, backend="cpp", seeds=seeds)}[kind]()


def q_input(kind: str, lead: tuple, g: torch.Generator) -> torch.Tensor:
    shape = {"minatar": (10, 10, 4), "mlp": (5,), "atari": (2, 36, 36)}[kind.split("-")[0]]
    if kind.startswith("minatar"):
        return torch.rand(*lead, *shape, generator=g) < 0.3
    if kind.startswith("atari"):
        return torch.randint(0, 256, (*lead, *shape), generator=g, dtype=torch.uint8)
    return torch.randn(*lead, *shape, generator=g, dtype=torch.float64)


Q_KINDS = ["minatar-dqn", "minatar-pl-sdqn", "mlp-dqn", "mlp-pl-sdqn", "atari-dqn", "atari-pl-sdqn"]


@pytest.mark.parametrize("kind", Q_KINDS)
def test_stacked_q_network_is_each_seeds_network(kind):
    """The DQN networks with seeds=3 (grouped convolutions, per-seed PopNorm affines, batched
    products): each seed's Q-values and parameter gradients are its single network's (float64)."""
    K = 3
    torch.manual_seed(4)
    singles = [make_q(kind).double() for _ in range(K)]
    for m in singles:  # PopNorm starts as the identity affine: make each seed's differ
        for name, p in m.named_parameters():
            if name.startswith("norm"):
                p.data.add_(torch.randn_like(p) * 0.1)
    stacked = make_q(kind, seeds=K).double()
    stacked.load_state_dict(stack_states([m.state_dict() for m in singles]))
    obs = q_input(kind, (6, K), torch.Generator().manual_seed(9))
    y = stacked(obs)
    weights = torch.linspace(-1, 1, y.numel(), dtype=torch.float64).view(y.shape)
    (y * weights).sum().backward()
    for k, m in enumerate(singles):
        yk = m(obs[:, k])
        torch.testing.assert_close(y[:, k], yk, **F64)
        (yk * weights[:, k]).sum().backward()
        for (name, p), q in zip(m.named_parameters(), stacked.parameters()):
            torch.testing.assert_close(q.grad[k], p.grad, **F64, msg=lambda msg: f"seed {k} grad of {name}: {msg}")


@pytest.mark.parametrize("kind", Q_KINDS)
def test_one_seed_q_network_is_the_single_network_bit_for_bit(kind):
    torch.manual_seed(6)
    single = make_q(kind)
    one = make_q(kind, seeds=1)
    one.load_state_dict(stack_states([single.state_dict()]))
    obs = q_input(kind, (5,), torch.Generator().manual_seed(2))
    obs = obs.float() if obs.dtype == torch.float64 else obs
    assert torch.equal(one(obs[:, None])[:, 0], single(obs))


def graph_nodes(t: torch.Tensor) -> set[str]:
    seen, todo, names = set(), [t.grad_fn], set()
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        names.add(type(fn).__name__)
        todo += [f for f, _ in fn.next_functions]
    return names


@pytest.mark.parametrize("kind", ["ilc-san", "popsan", "popsan-plif", "ann", "critic", *Q_KINDS])
def test_one_seed_takes_its_parameters_as_views(kind):
    """With one seed the modules take their parameters' only slice by a view, never by indexing,
    whose backward writes a zero tensor of the parameter's whole size and copies the gradient
    into it at every update (spikekern.nn.seeds.one_seed)."""
    torch.manual_seed(3)
    if kind in Q_KINDS:
        y = make_q(kind, seeds=1)(q_input(kind, (4, 1), torch.Generator().manual_seed(1)))
    else:
        y = call(make(kind, seeds=1), torch.randn(4, 1, 3), torch.randn(4, 1, 2))
    nodes = graph_nodes(y)
    assert "SelectBackward0" not in nodes, sorted(nodes)
