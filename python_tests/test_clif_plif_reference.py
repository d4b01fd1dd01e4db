"""CLIF and PLIF reference loops (NEURONS.md §9-10): a sequence worked out by hand, the
backward equations written in NEURONS.md (computed here step by step, as a kernel will)
against autograd through the loops, and SpikingJelly 2.0's ComplementaryLIFNode and
ParametricLIFNode where it is installed (spikes and potentials equal, gradients of the
input and of PLIF's parameter within rounding)."""
import math

import pytest
import torch

import spikekern
from conftest import CPU_FUSED
from spikekern import ops
from spikekern.backends import reference as R
from spikekern.backends.spike_fn import psi
from spikekern.ops.surrogate import SURROGATES

SEED = 20261201


def test_clif_by_hand():
    # tau = 2, v_th = 1. t0: h = 1.5 -> spike; d = σ(0.75); m = 0*d + 1 = 1; v = 1.5 - (1 + σ(1)).
    # t1: h = v0 - v0/2 + 0.2 = v0/2 + 0.2 (< 1: no spike); m = 1 * σ(h/2); v = h.
    x = torch.tensor([[1.5], [0.2]], dtype=torch.float64)
    s, v, m = R.clif(x, 2.0, 1.0, 1, 1.0, return_states=True)
    sig = lambda z: 1 / (1 + math.exp(-z))
    v0 = 1.5 - (1 + sig(1.0))
    h1 = v0 / 2 + 0.2
    assert s.flatten().tolist() == [1.0, 0.0]
    assert v.flatten().tolist() == pytest.approx([v0, h1], abs=1e-15)
    assert m.flatten().tolist() == pytest.approx([1.0, sig(h1 / 2)], abs=1e-15)


def _clif_backward(x, gs, tau, v_th, code, alpha):
    """NEURONS.md §9's backward, step by step, from h[t] and m[t-1] (float64)."""
    s, v, m = R.clif(x, tau, v_th, code, alpha, return_states=True)
    T = x.shape[0]
    v_prev = torch.cat([torch.zeros_like(v[:1]), v[:-1]])
    m_prev = torch.cat([torch.zeros_like(m[:1]), m[:-1]])
    h = (v_prev - v_prev / tau) + x
    gx = torch.empty_like(x)
    gv = torch.zeros_like(x[0])
    gm = torch.zeros_like(x[0])
    for t in reversed(range(T)):
        d = torch.sigmoid(h[t] / tau)
        st = (h[t] - v_th >= 0).to(x.dtype)
        mt = m_prev[t] * d + st
        sm = torch.sigmoid(mt)
        gm_t = gm - gv * st * sm * (1 - sm)
        gs_t = gs[t] + gm_t - gv * (v_th + sm)
        gh = gv + gs_t * psi(h[t] - v_th, code, alpha) + gm_t * m_prev[t] * d * (1 - d) / tau
        gx[t] = gh
        gv = (1 - 1 / tau) * gh
        gm = gm_t * d
    return gx


def _plif_backward(x, w, gs, decay_input, v_th, v_reset, detach, code, alpha):
    """NEURONS.md §10's backward (LIF's with a = 1 - q, and the parameter's sum)."""
    _, v = R.plif(x, w, decay_input, v_th, v_reset, detach, code, alpha, return_v=True)
    q = torch.sigmoid(w.detach())
    v_r = 0.0 if v_reset is None else v_reset
    v_prev = torch.cat([torch.full_like(v[:1], v_r), v[:-1]])
    h = v_prev + (x - (v_prev - v_r)) * q if decay_input else v_prev - (v_prev - v_r) * q + x
    gx, gw = torch.empty_like(x), torch.zeros((), dtype=x.dtype)
    g_next = torch.zeros_like(x[0])
    for t in reversed(range(x.shape[0])):
        p = psi(h[t] - v_th, code, alpha)
        st = (h[t] - v_th >= 0).to(x.dtype)
        if v_reset is None:
            dv_dh = torch.ones_like(p) if detach else 1 - v_th * p
        else:
            dv_dh = (1 - st) if detach else (1 - st) + (v_reset - h[t]) * p
        gh = gs[t] * p + (1 - q) * g_next * dv_dh
        gx[t] = q * gh if decay_input else gh
        dh_dq = x[t] - (v_prev[t] - v_r) if decay_input else -(v_prev[t] - v_r)
        gw = gw + (gh * dh_dq).sum()
        g_next = gh
    return gx, q * (1 - q) * gw


@pytest.mark.parametrize("surrogate", sorted(SURROGATES))
def test_clif_backward_equations_equal_autograd(surrogate):
    code, alpha = SURROGATES[surrogate]
    gen = torch.Generator().manual_seed(SEED)
    x = (torch.randn(9, 40, generator=gen, dtype=torch.float64) * 1.5).requires_grad_(True)
    gs = torch.randn(9, 40, generator=gen, dtype=torch.float64)
    s = R.clif(x, 2.0, 1.0, code, alpha)
    assert 0.05 < s.mean() < 0.6, f"seed {SEED}: spikes {s.mean():.2f}"
    (s * gs).sum().backward()
    torch.testing.assert_close(_clif_backward(x.detach(), gs, 2.0, 1.0, code, alpha), x.grad,
                               msg=lambda m: f"seed {SEED}, surrogate {surrogate}: {m}")


@pytest.mark.parametrize("decay_input", [True, False])
@pytest.mark.parametrize("v_reset", [0.0, -0.5, None])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("surrogate", ["sigmoid", "atan", "rect"])
def test_plif_backward_equations_equal_autograd(decay_input, v_reset, detach, surrogate):
    code, alpha = SURROGATES[surrogate]
    gen = torch.Generator().manual_seed(SEED)
    x = (torch.randn(7, 50, generator=gen, dtype=torch.float64) * 2).requires_grad_(True)
    w = torch.tensor(-math.log(3.0 - 1.0), dtype=torch.float64, requires_grad=True)
    gs = torch.randn(7, 50, generator=gen, dtype=torch.float64)
    (R.plif(x, w, decay_input, 1.0, v_reset, detach, code, alpha) * gs).sum().backward()
    gx, gw = _plif_backward(x.detach(), w, gs, decay_input, 1.0, v_reset, detach, code, alpha)
    torch.testing.assert_close(gx, x.grad, msg=lambda m: f"seed {SEED}: {m}")
    torch.testing.assert_close(gw, w.grad, msg=lambda m: f"seed {SEED}: {m}")


# ------------------------------------------------------------------ against SpikingJelly 2.0
sj_neuron = pytest.importorskip("spikingjelly.activation_based.neuron", reason="SpikingJelly 2.0 is not installed")
sj_surrogate = pytest.importorskip("spikingjelly.activation_based.surrogate")
SJ_SURROGATES = {"rect": lambda a: sj_surrogate.Rect(alpha=a), "sigmoid": lambda a: sj_surrogate.Sigmoid(alpha=a),
                 "atan": lambda a: sj_surrogate.ATan(alpha=a)}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("surrogate", ["rect", "sigmoid", "atan"])
@pytest.mark.parametrize("shape", [(1, 7), (8, 3, 33)])
def test_clif_equals_spikingjelly(dtype, surrogate, shape):
    """The reference loop: spikes and both states bit for bit."""
    code, alpha = SURROGATES[surrogate]
    gen = torch.Generator().manual_seed(SEED)
    x = (torch.randn(*shape, generator=gen) * 1.5).to(dtype).requires_grad_(True)
    node = sj_neuron.ComplementaryLIFNode(surrogate_function=SJ_SURROGATES[surrogate](alpha), step_mode="m",
                                          store_state_seqs=True)
    s_sj = node(x)
    v_sj, m_sj = node.state_seqs
    x2 = x.detach().clone().requires_grad_(True)
    s, v, m = R.clif(x2, 2.0, 1.0, code, alpha, return_states=True)
    msg = f"seed {SEED}, {dtype}, {surrogate}, {shape}"
    assert torch.equal(s, s_sj) and torch.equal(v, v_sj) and torch.equal(m, m_sj), msg
    g = torch.randn(s.shape, generator=gen).to(dtype)
    (s_sj * g).sum().backward()
    (s * g).sum().backward()
    torch.testing.assert_close(x2.grad, x.grad, msg=lambda e: f"{msg}: {e}")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("surrogate", ["rect", "sigmoid", "atan"])
@pytest.mark.parametrize("backend", CPU_FUSED)
def test_fused_clif_equals_spikingjelly(dtype, surrogate, backend):
    """The fused backends through spikekern.nn.CLIF: spikes equal, the input gradient within tolerance
    (their sigmoid's last bit may differ from torch's, so the states agree within rounding)."""
    code, alpha = SURROGATES[surrogate]
    gen = torch.Generator().manual_seed(SEED)
    x = (torch.randn(8, 3, 33, generator=gen) * 1.5).to(dtype).requires_grad_(True)
    node = sj_neuron.ComplementaryLIFNode(surrogate_function=SJ_SURROGATES[surrogate](alpha), step_mode="m")
    s_sj = node(x)
    x2 = x.detach().clone().requires_grad_(True)
    s = spikekern.nn.CLIF(surrogate=surrogate, alpha=alpha, backend=backend)(x2)
    msg = f"seed {SEED}, {dtype}, {surrogate}, {backend}"
    assert torch.equal(s, s_sj), msg
    g = torch.randn(s.shape, generator=gen).to(dtype)
    (s_sj * g).sum().backward()
    (s * g).sum().backward()
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x2.grad, x.grad, **tol, msg=lambda e: f"{msg}: {e}")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("decay_input", [True, False])
@pytest.mark.parametrize("v_reset", [0.0, None])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("surrogate", ["sigmoid", "atan"])
@pytest.mark.parametrize("backend", ["reference", *CPU_FUSED])
def test_plif_equals_spikingjelly(dtype, decay_input, v_reset, detach, surrogate, backend):
    """The reference loop and the fused backends, through spikekern.nn.PLIF (which owns w)."""
    code, alpha = SURROGATES[surrogate]
    gen = torch.Generator().manual_seed(SEED)
    x = (torch.randn(6, 4, 17, generator=gen) * 1.5).to(dtype).requires_grad_(True)
    node = sj_neuron.ParametricLIFNode(init_tau=3.0, decay_input=decay_input, v_reset=v_reset, detach_reset=detach,
                                       surrogate_function=SJ_SURROGATES[surrogate](alpha), step_mode="m",
                                       store_v_seq=True).to(dtype)
    s_sj = node(x)
    x2 = x.detach().clone().requires_grad_(True)
    # SpikingJelly's initial w, -ln(init_tau - 1), made as a float32 tensor (then cast)
    assert node.w.item() == torch.tensor(-math.log(3.0 - 1.0), dtype=torch.float32).item()
    plif = spikekern.nn.PLIF(init_tau=3.0, decay_input=decay_input, v_reset=v_reset, detach_reset=detach,
                             surrogate=surrogate, alpha=alpha, backend=backend)
    assert torch.equal(plif.w, node.w.float())
    w = plif.w
    s, v = ops.plif(x2, w, decay_input=decay_input, v_reset=v_reset, detach_reset=detach, surrogate=surrogate,
                    alpha=alpha, return_v=True, backend=backend)
    assert torch.equal(s, plif(x2))
    msg = f"seed {SEED}, {dtype}, decay_input={decay_input}, v_reset={v_reset}, detach={detach}, {surrogate}, {backend}"
    assert torch.equal(s, s_sj) and torch.equal(v, node.v_seq), msg
    g = torch.randn(s.shape, generator=gen).to(dtype)
    (s_sj * g).sum().backward()
    (s * g).sum().backward()
    torch.testing.assert_close(x2.grad, x.grad, msg=lambda e: f"{msg}: {e}")
    # w is float32 (as PLIF owns it) where SpikingJelly's was cast to the neuron's dtype
    torch.testing.assert_close(w.grad.to(node.w.grad.dtype), node.w.grad, rtol=1e-5, atol=1e-5,
                               msg=lambda e: f"{msg}: {e}")
