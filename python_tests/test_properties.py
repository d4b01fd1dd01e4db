"""Property-based tests (hypothesis) of the ops against the reference loop: random shapes
(T from 1 to 64, odd sizes, zero-size batch dimensions), layouts (contiguous, strided,
expanded), parameters (tau, decays, thresholds, resets, detach, every surrogate and alpha)
and dtypes, on each backend this machine runs; and bad parameter values, which must raise a
clear ValueError on every backend. Hypothesis prints the falsifying example (and the seed of
its random input) on failure; `--hypothesis-seed` reruns it."""
import math

import pytest
import torch

hypothesis = pytest.importorskip("hypothesis", reason="the [test] extra is not installed")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import CPU_FUSED  # noqa: E402
from helpers import TOL, assert_grad_close, ops  # noqa: E402

# Examples per op and backend in every test run: the Triton interpreter is slow, so fewer.
EXAMPLES = {"cpp": 200, "triton": 25}
MAX_T = {"cpp": 64, "triton": 16}
SURROGATES = ["qgate", "rect", "sigmoid", "atan", "pass"]


def _settings(backend):
    return settings(max_examples=EXAMPLES.get(backend, 10), deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def inputs(draw, backend, last=None):
    """(leaf, view_fn, seed): a float leaf tensor and the layout applied to it before the op
    (gradients flow back through the view to the leaf)."""
    T = draw(st.integers(1, MAX_T[backend]))
    batch = draw(st.lists(st.integers(0, 5), min_size=0 if last else 1, max_size=2))
    features = [last] if last else [draw(st.integers(1, 9))]
    layout = draw(st.sampled_from(["contiguous", "strided", "expanded"]))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    shape = [T, *batch, *features]
    if layout == "expanded":  # one sample repeated over a new batch dimension (stride 0)
        reps = draw(st.integers(0, 4))
        leaf_shape, view = [T, 1, *shape[1:]], (lambda t, reps=reps: t.expand(T, reps, *t.shape[2:]))
    elif layout == "strided":  # every other element of the last dimension
        leaf_shape, view = [*shape[:-1], 2 * shape[-1]], (lambda t: t[..., ::2])
    else:
        leaf_shape, view = shape, (lambda t: t)
    leaf = (torch.randn(leaf_shape, generator=g, dtype=torch.float64) * 1.5 + 0.3).to(dtype)
    return leaf, view, seed


@st.composite
def thresholds(draw):
    v_reset = draw(st.one_of(st.none(), st.floats(-1.0, 0.5)))
    above = draw(st.floats(0.05, 2.0))
    return (above if v_reset is None else v_reset + above), v_reset


def surrogate_args(draw):
    name = draw(st.sampled_from(SURROGATES))
    alpha = draw(st.one_of(st.none(), st.floats(0.5, 8.0)))
    return dict(surrogate=name, alpha=alpha, detach_reset=draw(st.booleans()))


def _run(fn, leaves: dict, views: dict, seed: int):
    xs = {k: v.detach().clone().requires_grad_(True) for k, v in leaves.items()}
    out = fn(**{k: views.get(k, lambda t: t)(x) for k, x in xs.items()})
    outs = out if isinstance(out, tuple) else (out,)
    g = torch.Generator().manual_seed(seed + 1)
    loss = sum((o.double() * torch.randn(o.shape, generator=g, dtype=torch.float64)).sum() for o in outs)
    if loss.requires_grad:
        loss.backward()
    return [o.detach() for o in outs], {k: x.grad for k, x in xs.items()}


def _compare(fn, leaves, views, seed, backend):
    ref, ref_g = _run(lambda **k: fn(backend="reference", **k), leaves, views, seed)
    got, got_g = _run(lambda **k: fn(backend=backend, **k), leaves, views, seed)
    dtype = next(iter(leaves.values())).dtype
    assert got[0].shape == ref[0].shape and got[0].dtype == ref[0].dtype
    assert torch.equal(got[0], ref[0]), f"spikes differ at {(got[0] != ref[0]).nonzero()[:5].tolist()} (seed {seed})"
    for o, r in zip(got[1:], ref[1:]):
        torch.testing.assert_close(o, r, **TOL[dtype])
    for k in ref_g:
        if ref_g[k] is None or got_g[k] is None:
            assert (ref_g[k] is None or not ref_g[k].any()) and (got_g[k] is None or not got_g[k].any()), k
            continue
        assert_grad_close(got_g[k], ref_g[k], k)


def cpu_property(body):
    """A hypothesis property of every fused CPU backend against the reference: body(data,
    backend) draws its inputs from `data` and compares."""
    @pytest.mark.parametrize("backend", CPU_FUSED)
    def test(backend):
        @_settings(backend)
        @given(data=st.data())
        def check(data):
            body(data, backend)

        check()

    test.__doc__ = body.__doc__
    return test


def cuba_params(data) -> dict:
    """Decays, threshold, reset and surrogate of a CUBA-LIF (and ILC) neuron."""
    v_th, v_reset = data.draw(thresholds())
    return dict(c_decay=data.draw(st.floats(0.0, 1.0)), v_decay=data.draw(st.floats(0.0, 1.0)), v_threshold=v_th,
                v_reset=v_reset, **surrogate_args(data.draw))


@cpu_property
def test_lif_property(data, backend):
    leaf, view, seed = data.draw(inputs(backend))
    tau = data.draw(st.one_of(st.just(math.inf), st.floats(1.0, 10.0)))
    decay_input = False if math.isinf(tau) else data.draw(st.booleans())
    v_th, v_reset = data.draw(thresholds())
    kw = dict(tau=tau, decay_input=decay_input, v_threshold=v_th, v_reset=v_reset,
              return_v=data.draw(st.booleans()), **surrogate_args(data.draw))
    leaves, views = {"x": leaf}, {"x": view}
    if data.draw(st.booleans()):  # an initial potential for every neuron
        shape = view(leaf).shape[1:]
        leaves["v_init"] = (torch.randn(shape, generator=torch.Generator().manual_seed(seed + 2),
                                        dtype=torch.float64) * 0.3).to(leaf.dtype)
    _compare(lambda **k: ops.lif(**k, **kw), leaves, views, seed, backend)


@cpu_property
def test_cuba_lif_property(data, backend):
    leaf, view, seed = data.draw(inputs(backend))
    kw = dict(cuba_params(data), return_v=data.draw(st.booleans()))
    _compare(lambda **k: ops.cuba_lif(**k, **kw), {"x": leaf}, {"x": view}, seed, backend)


@cpu_property
def test_ilc_cuba_lif_property(data, backend):
    A, P = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 12))
    leaf, view, seed = data.draw(inputs(backend, last=A * P))
    if view(leaf).dim() < 2:
        return
    g = torch.Generator().manual_seed(seed + 3)
    w = (torch.randn(A, P, P, generator=g, dtype=torch.float64) / math.sqrt(P)).to(leaf.dtype)
    b = (torch.randn(A, P, generator=g, dtype=torch.float64) * 0.2).to(leaf.dtype)
    kw = cuba_params(data)
    _compare(lambda x, weight, bias, backend: ops.ilc_cuba_lif(x, weight, bias, backend=backend, **kw),
             {"x": leaf, "weight": w, "bias": b}, {"x": view}, seed, backend)


BAD = st.sampled_from([-1.0, 0.0, 0.5, math.nan, -math.inf])


@pytest.mark.parametrize("backend", ["reference", *CPU_FUSED])
@settings(max_examples=40, deadline=None, derandomize=True)
@given(which=st.sampled_from(["tau", "threshold", "soft_threshold", "reset", "alpha", "c_decay", "v_decay"]),
       value=st.sampled_from([-1.0, 0.0, 1.5, math.nan, math.inf, -math.inf]))
def test_bad_parameters_raise_value_error(backend, which, value):
    x = torch.randn(3, 4)
    if which == "tau":
        call = lambda: ops.lif(x, tau=value if value not in (1.5, math.inf) else -2.0, backend=backend)  # noqa: E731
    elif which == "threshold":
        call = lambda: ops.lif(x, v_threshold=value if value != 1.5 else -0.5, v_reset=0.0, backend=backend)  # noqa: E731
    elif which == "soft_threshold":
        call = lambda: ops.cuba_lif(x, v_threshold=value if value != 1.5 else -0.5, v_reset=None, backend=backend)  # noqa: E731
    elif which == "reset":
        call = lambda: ops.lif(x, v_reset=value if value not in (-1.0, 0.0) else 2.0, backend=backend)  # noqa: E731
    elif which == "alpha":
        call = lambda: ops.lif(x, surrogate="atan", alpha=value if value != 1.5 else -1.5, backend=backend)  # noqa: E731
    else:
        v = value if value not in (0.0,) else 1.0001
        call = lambda: ops.cuba_lif(x, **{which: v}, backend=backend)  # noqa: E731
    with pytest.raises(ValueError):
        call()


@cpu_property
def test_clif_property(data, backend):
    """CLIF: two states per neuron, its time constant and threshold drawn."""
    leaf, view, seed = data.draw(inputs(backend))
    kw = dict(tau=data.draw(st.floats(1.0, 10.0)), v_threshold=data.draw(st.floats(0.1, 2.0)),
              **surrogate_args(data.draw))
    kw.pop("detach_reset")  # CLIF detaches nothing
    _compare(lambda x, backend: ops.clif(x, backend=backend, **kw), {"x": leaf}, {"x": view}, seed, backend)

@cpu_property
def test_plif_property(data, backend):
    """PLIF, its parameter's gradient included (summed inside the fused backward)."""
    leaf, view, seed = data.draw(inputs(backend))
    v_th, v_reset = data.draw(thresholds())
    kw = dict(decay_input=data.draw(st.booleans()), v_threshold=v_th, v_reset=v_reset,
              return_v=data.draw(st.booleans()), **surrogate_args(data.draw))
    init_tau = data.draw(st.floats(1.1, 10.0))
    # float32 (as PLIF owns it) or x's dtype; a float64 w of a float32 neuron gets a float32 gradient
    w = torch.tensor(-math.log(init_tau - 1.0), dtype=data.draw(st.sampled_from([torch.float32, leaf.dtype])))
    _compare(lambda x, w, backend: ops.plif(x, w, backend=backend, **kw), {"x": leaf, "w": w}, {"x": view},
             seed, backend)
