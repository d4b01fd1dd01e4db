"""The reference loops against sequences worked out by hand, surrogate table checks, and
gradcheck of the reference's BPTT where the neuron is locally differentiable."""
import math

import pytest
import torch

import spikekern
from spikekern.ops import surrogate

ops = spikekern.ops
REF = dict(backend="reference")


def t(values):
    return torch.tensor(values, dtype=torch.float64).reshape(len(values), 1)


def test_lif_hard_reset_by_hand():
    # tau=2, decay_input: h = 0.5 v + 0.5 x (+ v_reset/tau = 0). v_th = 1.
    x = t([1.0, 2.0, 3.0, 0.0])
    # t0: h=0.5 -> no spike, v=0.5; t1: h=0.25+1=1.25 -> spike, v=0
    # t2: h=1.5 -> spike, v=0;      t3: h=0 -> no spike, v=0
    s, v = ops.lif(x, 2.0, return_v=True, **REF)
    assert s.flatten().tolist() == [0.0, 1.0, 1.0, 0.0]
    assert v.flatten().tolist() == [0.5, 0.0, 0.0, 0.0]


def test_lif_nonzero_reset_uses_c_term():
    # v_reset = -1, tau = 2: h = 0.5 v + 0.5 x - 0.5; v starts at -1.
    x = t([4.0, 0.0])
    # t0: h = -0.5 + 2 - 0.5 = 1.0 -> spike (>= threshold), v = -1
    # t1: h = -0.5 + 0 - 0.5 = -1.0 -> no spike, v = -1
    s, v = ops.lif(x, 2.0, v_reset=-1.0, return_v=True, **REF)
    assert s.flatten().tolist() == [1.0, 0.0]
    assert v.flatten().tolist() == [-1.0, -1.0]


def test_if_soft_reset_by_hand():
    # IF (a = b = 1, c = 0), soft reset, v_th = 1: the population encoder's neuron.
    x = t([0.6, 0.6, 0.6, 1.7])
    # v: 0.6 | 1.2 -> spike, 0.2 | 0.8 | 2.5 -> spike, 1.5
    s, v = ops.lif(x, float("inf"), decay_input=False, v_reset=None, return_v=True, **REF)
    assert s.flatten().tolist() == [0.0, 1.0, 0.0, 1.0]
    torch.testing.assert_close(v.flatten(), torch.tensor([0.6, 0.2, 0.8, 1.5], dtype=torch.float64))


def test_lif_no_decay_input_by_hand():
    # decay_input=False, tau=4: h = 0.75 v + x + 0 (v_reset 0); v_th = 1
    x = t([0.8, 0.8])
    # t0: h = 0.8 no spike; t1: h = 0.6 + 0.8 = 1.4 spike -> 0
    s, v = ops.lif(x, 4.0, decay_input=False, return_v=True, **REF)
    assert s.flatten().tolist() == [0.0, 1.0]
    torch.testing.assert_close(v.flatten(), torch.tensor([0.8, 0.0], dtype=torch.float64))


def test_cuba_lif_by_hand():
    # c_decay .5, v_decay .75, v_th .5, hard reset to 0.
    x = t([0.2, 0.2, 0.0, 1.0])
    # cur: .2 | .3 | .15 | 1.075 ; h: .2 | .15+.3=.45 | .3375+.15=.4875 | .365625+1.075 -> spike
    s, v = ops.cuba_lif(x, return_v=True, **REF)
    assert s.flatten().tolist() == [0.0, 0.0, 0.0, 1.0]
    torch.testing.assert_close(v.flatten(), torch.tensor([0.2, 0.45, 0.4875, 0.0], dtype=torch.float64))


def test_ilc_lateral_by_hand():
    # One group of P=2. Neuron 0 fires at t0; W[1,0] = 0.6 drives neuron 1 at t1.
    x = torch.tensor([[[1.0, 0.0]], [[0.0, 0.0]], [[0.0, 0.0]]], dtype=torch.float64)  # [T=3, B=1, 2]
    W = torch.tensor([[[0.0, 0.0], [0.6, 0.0]]], dtype=torch.float64)
    b = torch.tensor([[0.0, 0.1]], dtype=torch.float64)
    s = ops.ilc_cuba_lif(x, W, b, **REF)
    # neuron 0: t0 cur 1, h 1 -> spike, v 0; t1 x' = 0 (no input from itself, bias 0),
    #   cur .5, h .5 -> spike (>= 0.5); t2 cur .25, h .25 -> none.
    # neuron 1: t0 nothing; t1 x' = 0.6*s0[t0] + 0.1 = 0.7, cur .7, h .7 -> spike, v 0;
    #   t2 x' = 0.6*s0[t1] + 0.1 = 0.7, cur .35 + .7 = 1.05 -> spike.
    assert s[:, 0, 0].tolist() == [1.0, 1.0, 0.0]
    assert s[:, 0, 1].tolist() == [0.0, 1.0, 1.0]


@pytest.mark.parametrize("decode,expected", [
    ("last-mem", [1.0, -3.0]), ("last_mem", [1.0, -3.0]), ("max-mem", [3.0, 0.5]),
    ("mean-mem", [2.0, -3.5 / 3]), ("max-abs-mem", [3.0, -3.0]), ("max_abs_mem", [3.0, -3.0]),
])
def test_nonspiking_if_decodes(decode, expected):
    x = torch.tensor([[2.0, 0.5], [1.0, -1.5], [-2.0, -2.0]])  # v: [2, .5], [3, -1], [1, -3]
    torch.testing.assert_close(ops.nonspiking_if(x, decode), torch.tensor(expected))


# Each surrogate's psi must be the derivative of a smooth primitive of the spike.
PRIMITIVES = {
    "sigmoid": lambda u, a: torch.sigmoid(a * u),
    "atan": lambda u, a: torch.atan(math.pi / 2 * a * u) / math.pi + 0.5,
    "qgate": lambda u, a: torch.where(u < -1 / a, torch.zeros_like(u),
                                      torch.where(u <= 0, (a * u + 1) ** 2 / 2,
                                                  torch.where(u <= 1 / a, 1 - (1 - a * u) ** 2 / 2, torch.ones_like(u)))),
    "rect": lambda u, a: torch.clamp(a * u + 0.5, 0.0, 1.0),
    "pass": lambda u, a: u,
}


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
@pytest.mark.parametrize("alpha", [None, 0.7, 3.0])
def test_surrogate_is_derivative_of_primitive(name, alpha):
    code, a = surrogate.resolve(name, alpha)
    u = torch.linspace(-2.0, 2.0, 401, dtype=torch.float64)
    u = u[(u.abs() - 1 / a).abs() > 1e-9]  # away from kinks
    u = u[(u.abs() - 0.5 / a).abs() > 1e-9]
    u.requires_grad_(True)
    (d,) = torch.autograd.grad(PRIMITIVES[name](u, a).sum(), u)
    torch.testing.assert_close(surrogate.psi(u.detach(), code, a), d)


def test_surrogate_default_alphas():
    assert {k: v[1] for k, v in ops.SURROGATES.items()} == {
        "qgate": 2.0, "rect": 1.0, "sigmoid": 4.0, "atan": 2.0, "pass": 1.0}


@pytest.mark.parametrize("neuron", ["lif", "lif_soft", "cuba"])
def test_gradcheck_subthreshold(neuron):
    # Far below threshold no neuron fires and psi (qgate/rect) is 0, so the neuron is a
    # smooth linear recurrence and gradcheck's finite differences must equal BPTT.
    x = (torch.rand(6, 3, dtype=torch.float64) * 0.2 - 1.0).requires_grad_(True)
    if neuron == "cuba":
        f = lambda x: ops.cuba_lif(x, return_v=True, v_threshold=5.0, **REF)[1]
    else:
        v_reset = None if neuron == "lif_soft" else 0.0
        v0 = torch.rand(3, dtype=torch.float64, requires_grad=True)
        f = lambda x, v0=v0: ops.lif(x, 3.0, v_reset=v_reset, surrogate="qgate", v_threshold=5.0,
                                     v_init=v0, return_v=True, **REF)[1]
        assert torch.autograd.gradcheck(lambda v: ops.lif(x.detach(), 3.0, v_reset=v_reset, surrogate="qgate",
                                                          v_threshold=5.0, v_init=v, return_v=True, **REF)[1], (v0,))
    assert torch.autograd.gradcheck(f, (x,))


def test_surrogate_codes_match_the_cpp_enum():
    """One table of surrogate codes (spikekern/ops/surrogate.py): the C++/CUDA enum must
    give each name the same number (the Triton kernels are checked numerically per code by
    test_backends.py)."""
    import re
    from pathlib import Path

    header = Path(__file__).resolve().parents[1] / "csrc" / "spikekern" / "neuron_args.h"
    enum = dict(re.findall(r"\bk(QGate|Rect|Sigmoid|ATan|Pass)\s*=\s*(\d+)", header.read_text()))
    names = {"QGate": "qgate", "Rect": "rect", "Sigmoid": "sigmoid", "ATan": "atan", "Pass": "pass"}
    assert {names[k]: int(v) for k, v in enum.items()} == {n: c for n, (c, _) in surrogate.SURROGATES.items()}
