"""spikekern.nn: modules against hand-checked cases, backends against the reference, errors."""
import math

import pytest
import torch

import spikekern
from conftest import CPU_FUSED
from spikekern.nn import CUBALIF, ILCCUBALIF, LIF, IFEncoderNeuron, NonSpikingIF, PopDecoder, PopNorm, PopSpikeEncoder


def test_lif_presets_and_repr():
    b = LIF.braincog(threshold=1.0)
    assert (b.tau, b.v_threshold, b.v_reset, b.detach_reset, b.surrogate, b.alpha) == (2.0, 1.0, 0.0, True, "qgate", 2.0)
    sj = LIF.spikingjelly()
    assert (sj.tau, sj.decay_input, sj.v_threshold, sj.v_reset, sj.surrogate, sj.alpha) == (2.0, True, 1.0, 0.0, "sigmoid", 4.0)
    r = repr(LIF.braincog(backend="cpp"))
    assert "qgate(alpha=2.0)" in r and "backend=cpp" in r and "v_threshold=0.5" in r
    assert "backend=default" in repr(CUBALIF())
    assert "act_dim=3, pop_dim=4" in repr(ILCCUBALIF(3, 4))


def test_braincog_lif_matches_braincog_update_rule():
    # BrainCog LIFNode: mem = mem + (x - mem)/tau; spike = mem > th; mem = mem*(1-spike)
    x = torch.rand(6, 50, dtype=torch.float64) * 2
    mem, expected = torch.zeros(50, dtype=torch.float64), []
    for t in range(6):
        mem = mem + (x[t] - mem) / 2.0
        spike = (mem - 0.5 >= 0).double()
        mem = mem * (1 - spike)
        expected.append(spike)
    torch.testing.assert_close(LIF.braincog()(x), torch.stack(expected))


def test_module_backend_and_default():
    x = torch.randn(4, 2, 3)
    with pytest.raises(ValueError, match="unknown backend"):
        LIF(backend="gpu")
    with pytest.raises(RuntimeError, match="'cuda' is not available"):
        LIF(backend="cuda")(x)
    with spikekern.use_backend("reference"):
        ref = LIF()(x)
    assert torch.equal(ref, LIF(backend="cpp")(x))


def test_modules_need_multistep_input():
    with pytest.raises(ValueError, match=r"multi-step input \[T, B, ...\]"):
        CUBALIF()(torch.randn(5))


@pytest.mark.parametrize("backend", ["reference"] + CPU_FUSED)
def test_stateful_lif_streams(backend):
    x = torch.randn(10, 3, 7, dtype=torch.float64) + 0.5
    whole = LIF(backend=backend)(x)
    stream = LIF(backend=backend, stateful=True)
    parts = torch.cat([stream(x[:4]), stream(x[4:])])
    assert torch.equal(parts, whole)
    stream.reset()
    assert torch.equal(stream(x[4:]), LIF(backend=backend)(x[4:]))


def test_stateless_by_default():
    # A call after another on different input gives what a fresh neuron gives: no state leaks.
    x, other = torch.randn(4, 2, 5) + 1, torch.randn(4, 2, 5) * 3 + 2
    ops = spikekern.ops
    for m, fresh in ((CUBALIF(backend="cpp"), lambda x: ops.cuba_lif(x, backend="reference")),
                     (LIF(backend="cpp"), lambda x: ops.lif(x, backend="reference"))):
        assert fresh(other)[-1].any() and fresh(x).any()  # both inputs make the neurons fire
        m(other)
        assert torch.equal(m(x), fresh(x))


def test_if_encoder_neuron():
    n = IFEncoderNeuron()
    assert (n.v_threshold, n.v_reset, n.surrogate, n.detach_reset, n.tau) == (0.999, None, "pass", True, math.inf)


def test_ilc_init_matches_grouped_conv1d():
    # The peer stores the group matrices as a grouped Conv1d(A, A*P, P, groups=A): from the
    # same seed, the same initial values.
    torch.manual_seed(0)
    conv = torch.nn.Conv1d(6, 60, 10, groups=6)
    torch.manual_seed(0)
    m = ILCCUBALIF(6, 10)
    assert m.weight.shape == (6, 10, 10) and m.bias.shape == (6, 10)
    torch.testing.assert_close(m.weight.detach(), conv.weight.detach().view(6, 10, 10), rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(m.bias.detach(), conv.bias.detach().view(6, 10), rtol=1e-6, atol=1e-7)


def test_popnorm_init_and_normalisation():
    n = PopNorm([2, 3, 3], v_threshold=1.0, v_reset=0.2)
    assert torch.all(n.weight == 0.8) and torch.all(n.bias == 0.2)
    x = torch.randn(4, 5, 2, 3, 3, dtype=torch.float32) * 3 + 7  # [T, B, C, H, W]
    y = n(x)
    z = (y - 0.2) / 0.8
    torch.testing.assert_close(z.mean(dim=(-3, -2, -1)), torch.zeros(4, 5), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.var(dim=(-3, -2, -1), unbiased=False), torch.ones(4, 5), atol=1e-3, rtol=0)
    with pytest.raises(ValueError, match="PopNorm over"):
        n(torch.randn(2, 3, 4))


def test_pop_encoder_receptive_fields_by_hand():
    enc = PopSpikeEncoder(obs_dim=2, pop_dim=3, spike_ts=4, mean_range=(-1, 1), std=0.5, mode="pop-raw")
    assert enc.mean.view(2, 3).tolist() == [[-1.0, 0.0, 1.0]] * 2
    obs = torch.tensor([[0.0, 1.0]])
    a = enc(obs)
    assert a.shape == (4, 1, 6)
    e = math.exp(-0.5 * 1 / 0.25)  # one std-distance of 1 / 0.5 = 2 -> exp(-2)
    torch.testing.assert_close(a[0, 0], torch.tensor([e, 1.0, e, math.exp(-0.5 * 4 / 0.25), e, 1.0]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pop_encoder_far_fields_are_zero_and_the_rest_is_exp(dtype):
    """Fields whose exp would underflow (to a subnormal or 0) are exactly 0, values and
    gradients; every other field and its gradient is exp's own, bit for bit."""
    torch.manual_seed(3)
    enc = PopSpikeEncoder(obs_dim=4, pop_dim=9, spike_ts=2, mean_range=(-3, 3), std=0.05, mode="pop-raw").to(dtype)
    obs = torch.randn(16, 4, dtype=dtype) * 2
    a = enc.receptive_fields(obs)
    z = (-0.5 * (obs.unsqueeze(-1) - enc.mean.view(4, 9)).pow(2) / enc.std.view(4, 9).pow(2)).view(16, -1)
    exact = torch.exp(z)
    near = exact >= 2 * torch.finfo(dtype).tiny  # fields left to exp (a margin for the floor's rounding)
    assert (~near).any() and near.any(), "the case must have fields on both sides of the floor"
    assert torch.equal(a[near], exact[near])
    assert not a[exact < torch.finfo(dtype).tiny].any()
    g = torch.randn_like(a)
    (a * g).sum().backward()
    mean_grad = enc.mean.grad.clone()
    enc.mean.grad = None
    (exact * g * near).sum().backward()  # exp's own gradient from the fields exp computes
    torch.testing.assert_close(enc.mean.grad, mean_grad, rtol=0, atol=0)


def test_pop_encoder_det_spike_trains_by_hand():
    # A = 1 at the mean: the IF (v_th 0.999, soft reset) fires every step;
    # A = 0.5 fires every other step; A = exp(-8) never within 4 steps.
    enc = PopSpikeEncoder(obs_dim=1, pop_dim=3, spike_ts=4, mean_range=(0, 2), std=1.0 / math.sqrt(2 * math.log(2)))
    s = enc(torch.tensor([[1.0]]))  # distances 1, 0, 1 -> A = 0.5, 1, 0.5
    assert s[:, 0, 1].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert s[:, 0, 0].tolist() == [0.0, 1.0, 0.0, 1.0]


def test_pop_encoder_random_straight_through():
    torch.manual_seed(0)
    enc = PopSpikeEncoder(obs_dim=3, pop_dim=5, spike_ts=200, mean_range=(-3, 3), std=1.0, mode="pop-ran")
    obs = torch.randn(2, 3)
    s = enc(obs)
    assert set(s.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(s.mean(0), enc.receptive_fields(obs), atol=0.12, rtol=0)
    s.sum().backward()  # straight through: d s / d A = 1
    assert enc.mean.grad is not None and enc.mean.grad.abs().sum() > 0


def test_pop_encoder_errors():
    enc = PopSpikeEncoder(3, 5, 4, (-3, 3), 0.15)
    with pytest.raises(ValueError, match=r"observations must be \[B, obs_dim=3\]"):
        enc(torch.randn(2, 4))
    with pytest.raises(ValueError, match="unknown encoder mode"):
        PopSpikeEncoder(3, 5, 4, (-3, 3), 0.15, mode="pop")


@pytest.mark.parametrize("decode", ["last-mem", "last_mem", "max-mem", "mean-mem", "max-abs-mem", "fr-mlp"])
def test_pop_decoder_by_hand(decode):
    dec = PopDecoder(act_dim=2, pop_dim=2, spike_ts=3, decode=decode)
    with torch.no_grad():
        dec.conv.weight.copy_(torch.tensor([[[1.0, 2.0]], [[-1.0, 0.5]]]))
        dec.conv.bias.copy_(torch.tensor([0.1, -0.2]))
    s = torch.tensor([[[1, 0, 1, 1]], [[0, 1, 0, 0]], [[1, 1, 1, 0]]], dtype=torch.float32)  # [T=3, B=1, 4]
    # per-step group outputs: action 0: 1.1, 2.1, 3.1; action 1: -0.7, -0.2, -1.2
    per_step = torch.tensor([[1.1, -0.7], [2.1, -0.2], [3.1, -1.2]])
    v = per_step.cumsum(0)
    expected = {"last-mem": v[-1], "last_mem": v[-1], "max-mem": v.max(0).values, "mean-mem": v.mean(0),
                "max-abs-mem": torch.tensor([6.3, -2.1]),
                "fr-mlp": torch.tensor([2 / 3 * 1 + 2 / 3 * 2 + 0.1, -1 * 2 / 3 + 0.5 * 1 / 3 - 0.2])}[decode]
    torch.testing.assert_close(dec(s)[0], expected)


def test_pop_decoder_errors():
    with pytest.raises(ValueError, match="unknown decode"):
        PopDecoder(2, 3, 5, decode="last")
    with pytest.raises(ValueError, match=r"act_dim\*pop_dim=6"):
        PopDecoder(2, 3, 5)(torch.zeros(5, 1, 7))


def test_nonspiking_if_module():
    assert NonSpikingIF("max_mem").decode == "max-mem"


def test_an_explicit_auto_is_not_the_process_default():
    """A module given backend="auto" (as the trainers build their models) runs the fastest
    backend whatever spikekern.set_backend says; one given no backend follows the default."""
    if "cpp" not in spikekern.available_backends("cpu"):
        pytest.skip("the compiled extension is not built")
    x = torch.randn(4, 3, requires_grad=True)
    fused, loop = type(spikekern.ops.lif(x, backend="cpp").grad_fn), type(spikekern.ops.lif(x, backend="reference").grad_fn)
    assert fused is not loop
    with spikekern.use_backend("reference"):
        assert type(LIF(backend="auto")(x).grad_fn) is fused
        assert type(CUBALIF(backend="auto")(x).grad_fn) is fused
        assert type(LIF()(x).grad_fn) is loop
        assert type(spikekern.ops.lif(x).grad_fn) is loop  # an op's own default "auto" is the process default


def test_why_unavailable_says_what_is_missing():
    assert spikekern.why_unavailable("reference") is None
    assert spikekern.why_unavailable("auto", "cpu") is None
    assert "CUDA tensors" in spikekern.why_unavailable("cuda", "cpu")
    assert (spikekern.why_unavailable("cpp") is None) == ("cpp" in spikekern.available_backends("cpu"))
    with pytest.raises(ValueError, match="unknown backend"):
        spikekern.why_unavailable("fast")
