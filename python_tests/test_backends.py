"""Every fused CPU backend against the reference loop on fresh random inputs: spikes
exactly equal, potentials and gradients (input, initial state, ILC weights and bias)
within 1e-10 in float64 and 1e-5 relative in float32."""
import zlib

import pytest
import torch

from conftest import TARGETS
from spikekern.backends import reference, triton_backend
from helpers import TOL, assert_matches_reference, fresh_input, noncontiguous, ops, run_with_grads

DTYPES = [torch.float64, torch.float32]
SHAPES = [(1, 7), (3, 5, 11), (5, 33), (16, 3, 37), (5, 2, 3, 129), (16, 1100)]
INF = float("inf")

LIF_FLAVOURS = {
    "sj_decay_input": dict(tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0),
    "sj_no_decay_input": dict(tau=3.0, decay_input=False, v_threshold=1.0, v_reset=0.0),
    "sj_nonzero_reset": dict(tau=2.5, decay_input=True, v_threshold=0.8, v_reset=-0.3),
    "braincog": dict(tau=2.0, decay_input=True, v_threshold=0.5, v_reset=0.0, detach_reset=True,
                     surrogate="qgate"),
    "if_hard": dict(tau=INF, decay_input=False, v_threshold=1.0, v_reset=0.0),
    "if_soft_pass": dict(tau=INF, decay_input=False, v_threshold=0.999, v_reset=None,
                         surrogate="pass", detach_reset=True),
    "soft": dict(tau=2.0, decay_input=True, v_threshold=1.0, v_reset=None),
    "soft_detached": dict(tau=2.0, decay_input=False, v_threshold=1.0, v_reset=None, detach_reset=True),
    "hard_detached": dict(tau=4.0, decay_input=False, v_threshold=1.0, v_reset=0.2, detach_reset=True),
}
SURROGATES = ["qgate", "rect", "sigmoid", "atan", "pass"]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("flavour", sorted(LIF_FLAVOURS))
def test_lif_flavours(target, dtype, shape, flavour):
    device, backend = target
    kw = dict(LIF_FLAVOURS[flavour])
    # A stable seed per case (hash() of a str changes from process to process).
    x = fresh_input(device, shape, dtype, seed=zlib.crc32(repr((shape, flavour)).encode()) % 1000)
    assert_matches_reference(lambda x, **k: ops.lif(x, **k), {"x": x}, backend, return_v=True, **kw)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("surrogate", SURROGATES)
@pytest.mark.parametrize("reset", ["hard", "soft"])
@pytest.mark.parametrize("detach", [False, True])
def test_lif_surrogates(target, dtype, surrogate, reset, detach):
    device, backend = target
    x = fresh_input(device, (16, 5, 41), dtype, seed=3)
    v0 = fresh_input(device, (5, 41), dtype, seed=4, scale=0.3, shift=0.0)
    kw = dict(surrogate=surrogate, alpha=None if surrogate != "atan" else 1.3,
              v_reset=0.1 if reset == "hard" else None, detach_reset=detach)
    assert_matches_reference(lambda x, v_init, **k: ops.lif(x, v_init=v_init, **k),
                             {"x": x, "v_init": v0}, backend, return_v=True, **kw)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_lif_spikes_only_and_broadcast_v_init(target, dtype):
    device, backend = target
    # Gradient through the spikes alone (no v output) and a v_init broadcast over the batch.
    x = fresh_input(device, (5, 4, 9), dtype, seed=5)
    v0 = fresh_input(device, (9,), dtype, seed=6, scale=0.2)
    assert_matches_reference(lambda x, v_init, **k: ops.lif(x, v_init=v_init, **k),
                             {"x": x, "v_init": v0}, backend, tau=2.0)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("surrogate", SURROGATES)
@pytest.mark.parametrize("reset", [0.0, -0.2, None])
def test_cuba_lif(target, dtype, shape, surrogate, reset):
    device, backend = target
    x = fresh_input(device, shape, dtype, seed=7, scale=0.8, shift=0.2)
    assert_matches_reference(lambda x, **k: ops.cuba_lif(x, **k), {"x": x}, backend,
                             surrogate=surrogate, v_reset=reset, return_v=True)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("detach", [False, True])
def test_cuba_lif_detached_defaults(target, dtype, detach):
    device, backend = target
    x = fresh_input(device, (5, 100, 60), dtype, seed=8, scale=0.8, shift=0.2)
    assert_matches_reference(lambda x, **k: ops.cuba_lif(x, **k), {"x": x}, backend, detach_reset=detach)


ILC_SHAPES = [  # (T, batch dims, A, P)
    (1, (3,), 2, 4), (5, (100,), 6, 10), (16, (2, 3), 3, 5), (3, (17,), 1, 1), (5, (33,), 2, 64),
]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("T,batch,A,P", ILC_SHAPES)
@pytest.mark.parametrize("surrogate", ["rect", "sigmoid", "qgate"])
def test_ilc_cuba_lif(target, dtype, T, batch, A, P, surrogate):
    device, backend = target
    x = fresh_input(device, (T,) + batch + (A * P,), dtype, seed=9, scale=0.6, shift=0.1)
    w = fresh_input(device, (A, P, P), dtype, seed=10, scale=1.0 / P ** 0.5, shift=0.0)
    b = fresh_input(device, (A, P), dtype, seed=11, scale=0.1, shift=0.0)
    assert_matches_reference(lambda x, weight, bias, **k: ops.ilc_cuba_lif(x, weight, bias, **k),
                             {"x": x, "weight": w, "bias": b}, backend, surrogate=surrogate)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("reset,detach", [(None, False), (0.0, True), (-0.1, False)])
def test_ilc_cuba_lif_resets(target, reset, detach):
    device, backend = target
    x = fresh_input(device, (5, 40, 3 * 7), torch.float64, seed=12, scale=0.6, shift=0.1)
    w = fresh_input(device, (3, 7, 7), torch.float64, seed=13, scale=0.4, shift=0.0)
    b = fresh_input(device, (3, 7), torch.float64, seed=14, scale=0.1, shift=0.0)
    assert_matches_reference(lambda x, weight, bias, **k: ops.ilc_cuba_lif(x, weight, bias, **k),
                             {"x": x, "weight": w, "bias": b}, backend, v_reset=reset, detach_reset=detach)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("neuron", ["lif", "cuba", "ilc"])
def test_noncontiguous_input(target, neuron):
    device, backend = target
    x = fresh_input(device, (5, 6, 2 * 4), torch.float64, seed=15)
    xn = noncontiguous(x)
    if neuron == "ilc":
        w = fresh_input(device, (2, 4, 4), torch.float64, seed=30, scale=0.5, shift=0.0)
        b = fresh_input(device, (2, 4), torch.float64, seed=31, scale=0.1, shift=0.0)
        wn = noncontiguous(w)  # non-contiguous weight too
        fn = lambda x, weight, bias, **k: ops.ilc_cuba_lif(x, weight, bias, **k)
        ins = {"x": xn, "weight": wn, "bias": b}
        expected = ops.ilc_cuba_lif(x, w, b, backend=backend)
    else:
        f = ops.lif if neuron == "lif" else ops.cuba_lif
        fn = lambda x, **k: f(x, **k)
        ins = {"x": xn}
        expected = f(x, backend=backend)
    out, _ = assert_matches_reference(fn, ins, backend)
    assert torch.equal(out[0], expected)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("neuron", ["lif", "cuba", "ilc"])
def test_half_inputs_computed_in_float32(target, dtype, neuron):
    device, backend = target
    # Math runs in float32 on the float32 values of the half input: potentials and spikes
    # equal the reference's (which also upcasts), spikes come back in the input dtype.
    x = fresh_input(device, (5, 7, 12), dtype, seed=16)
    if neuron == "ilc":
        w = fresh_input(device, (3, 4, 4), dtype, seed=17, scale=0.5, shift=0.0)
        b = fresh_input(device, (3, 4), dtype, seed=18, scale=0.1, shift=0.0)
        fn = lambda x, weight, bias, **k: ops.ilc_cuba_lif(x, weight, bias, **k)
        ins = {"x": x, "weight": w, "bias": b}
    else:
        f = ops.lif if neuron == "lif" else ops.cuba_lif
        fn = lambda x, **k: f(x, **k)
        ins = {"x": x}
    out, grads = assert_matches_reference(fn, ins, backend)
    assert out[0].dtype == dtype and grads["x"].dtype == dtype


@pytest.mark.parametrize("target", TARGETS)
def test_nan_propagates(target):
    device, backend = target
    x = fresh_input(device, (4, 10), torch.float32, seed=19)
    x[1, 3] = float("nan")
    s, v = ops.lif(x, return_v=True, backend=backend)
    assert torch.isnan(v[1:, 3]).all() and not torch.isnan(v[:, :3]).any()
    assert s[1:, 3].eq(0).all()
    s2, v2 = ops.cuba_lif(x, return_v=True, backend=backend)
    assert torch.isnan(v2[1:, 3]).all()


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 7), (4, 3, 37), (16, 1100), (5, 2, 129)])
@pytest.mark.parametrize("case", ["lif_hard", "lif_soft_v_init", "cuba_hard", "cuba_soft"])
def test_spikes_only_forward_matches_reference(target, dtype, shape, case):
    # The no-grad, spikes-only forward (inference) saves neither h nor v, a template case of
    # its own in the CPU and CUDA kernels: its spikes equal the reference's.
    device, backend = target
    x = fresh_input(device, shape, dtype, seed=zlib.crc32(repr((shape, case)).encode()) % 1000)
    if case.startswith("lif"):
        v0 = fresh_input(device, shape[1:], dtype, seed=40, scale=0.3, shift=0.0) if "v_init" in case else None
        kw = dict(tau=2.0, v_reset=None if "soft" in case else -0.1)
        run = lambda b: ops.lif(x, v_init=v0, backend=b, **kw)  # noqa: E731
    else:
        kw = dict(v_reset=None if "soft" in case else 0.1)
        run = lambda b: ops.cuba_lif(x, backend=b, **kw)  # noqa: E731
    with torch.no_grad():
        got, expected = run(backend), run("reference")
    assert got.dtype == dtype and torch.equal(got, expected)


@pytest.mark.parametrize("target", TARGETS)
def test_no_grad_forward_saves_nothing(target):
    device, backend = target
    x = fresh_input(device, (5, 10), torch.float32, seed=20)
    with torch.no_grad():
        s1 = ops.lif(x, backend=backend)
        s2 = ops.cuba_lif(x, backend=backend)
    assert s1.grad_fn is None and s2.grad_fn is None
    fused = torch.ops.spikekern.lif_forward if backend in ("cpp", "cuda") else triton_backend.lif_forward
    _, h, _ = fused(x, None, 0.5, 0.5, 0.0, 1.0, 0.0, False, False, 2, 4.0, False, False)
    assert h.numel() == 0
    # Same spikes with and without grad.
    assert torch.equal(s1, ops.lif(x.requires_grad_(True), backend=backend))


def test_ilc_weight_gradient_is_deterministic():
    # Per-block partial sums reduced in a fixed order: identical across thread counts. Only
    # the cpp backend runs on several threads (torch.set_num_threads means nothing to the
    # Triton interpreter or a GPU).
    device, backend = "cpu", "cpp"
    x = fresh_input(device, (5, 300, 60), torch.float32, seed=21, scale=0.6)
    w = fresh_input(device, (6, 10, 10), torch.float32, seed=22, scale=0.3, shift=0.0)
    b = torch.zeros(6, 10, device=device)
    grads = []
    threads = torch.get_num_threads()
    try:
        for n in (1, 2, 1):
            torch.set_num_threads(n)
            _, g = run_with_grads(lambda x, weight, bias, **k: ops.ilc_cuba_lif(x, weight, bias, **k),
                                  {"x": x, "weight": w, "bias": b}, 0, backend=backend)
            grads.append(g)
    finally:
        torch.set_num_threads(threads)
    for g in grads[1:]:
        for k in g:
            assert torch.equal(g[k], grads[0][k])


# PLIF (NEURONS.md §10): the gradient of its parameter w is summed inside the fused backward.
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("decay_input", [True, False])
@pytest.mark.parametrize("reset", [0.0, -0.2, None])
def test_plif(target, dtype, shape, decay_input, reset):
    device, backend = target
    x = fresh_input(device, shape, dtype, seed=41)
    w = torch.tensor(-0.3, device=device, dtype=dtype)  # tau = 1 + e^0.3
    assert_matches_reference(lambda x, w, **k: ops.plif(x, w, **k), {"x": x, "w": w}, backend,
                             decay_input=decay_input, v_reset=reset, return_v=True)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("surrogate", SURROGATES)
@pytest.mark.parametrize("detach", [False, True])
def test_plif_surrogates_and_float32_parameter(target, surrogate, detach):
    # A float32 w (as PLIF owns it) driving a float64 neuron: q is computed in float64.
    device, backend = target
    x = fresh_input(device, (7, 3, 41), torch.float64, seed=42)
    w = torch.tensor(0.4, device=device)
    assert_matches_reference(lambda x, w, **k: ops.plif(x, w, **k), {"x": x, "w": w}, backend,
                             surrogate=surrogate, detach_reset=detach)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_plif_half_inputs(target, dtype):
    device, backend = target
    x = fresh_input(device, (5, 7, 12), dtype, seed=43)
    w = torch.tensor(0.0, device=device)
    out, grads = assert_matches_reference(lambda x, w, **k: ops.plif(x, w, **k), {"x": x, "w": w}, backend)
    assert out[0].dtype == dtype and grads["x"].dtype == dtype and grads["w"].dtype == torch.float32


@pytest.mark.parametrize("target", TARGETS)
def test_plif_parameter_gradient_is_the_same_every_run(target):
    # Per-block partial sums added in a fixed order: the same bits whatever the thread count.
    device, backend = target
    x = fresh_input(device, (6, 5000), torch.float32, seed=44).requires_grad_(True)
    w = torch.tensor(0.1, device=device, requires_grad=True)
    grads, before = [], torch.get_num_threads()
    try:
        for threads in (1, 2, 1):
            torch.set_num_threads(threads)
            (gw,) = torch.autograd.grad(ops.plif(x, w, backend=backend).sum(), [w])
            grads.append(gw)
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(g, grads[0]) for g in grads), [g.item() for g in grads]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("w", [-4.0, 3.0])
def test_plif_parameter_gradient_at_a_long_and_a_short_time_constant(target, dtype, w):
    # The fused kernels take dh/dq = (h[t] - v[t-1]) / q (NEURONS.md §10), whose error grows as
    # 1/q: tau = 1 + e^4 (q = 0.018) and tau = 1 + e^-3 (q = 0.95) against the reference.
    device, backend = target
    x = fresh_input(device, (9, 3, 37), dtype, seed=45)
    w = torch.tensor(w, device=device, dtype=dtype)
    assert_matches_reference(lambda x, w, **k: ops.plif(x, w, **k), {"x": x, "w": w}, backend)


@pytest.mark.parametrize("target", TARGETS)
def test_plif_backward_keeps_h_not_x(target):
    # dL/dq comes from h (NEURONS.md §10), so autograd holds no reference to the input.
    device, backend = target
    x = fresh_input(device, (4, 64), torch.float32, seed=46).requires_grad_(True)
    w = torch.tensor(0.2, device=device, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        ops.plif(x, w, backend=backend).sum().backward()
    assert saved and not any(t.untyped_storage().data_ptr() == x.untyped_storage().data_ptr() for t in saved)
    assert x.grad is not None and w.grad is not None


# CLIF (NEURONS.md §9): two states per neuron, the complementary potential m in the soft reset.
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("surrogate", SURROGATES)
def test_clif(target, dtype, shape, surrogate):
    device, backend = target
    x = fresh_input(device, shape, dtype, seed=zlib.crc32(repr((shape, surrogate)).encode()) % 1000)
    assert_matches_reference(lambda x, **k: ops.clif(x, **k), {"x": x}, backend, surrogate=surrogate,
                             alpha=None if surrogate != "atan" else 1.3)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_clif_states_and_noncontiguous_input(target, dtype):
    # The saved states themselves: h and m against the reference loop's (v recomputed from them),
    # from a non-contiguous input, with a time constant and threshold off the defaults.
    device, backend = target
    x = noncontiguous(fresh_input(device, (9, 4, 23), dtype, seed=45))
    tau, v_th = 3.0, 0.7
    _, v_ref, m_ref = reference.clif(x, tau, v_th, 1, 1.0, return_states=True)
    op = torch.ops.spikekern.clif_forward if backend != "triton" else triton_backend.clif_forward
    s, h, m = op(x, tau, v_th, 1, 1.0, True)
    torch.testing.assert_close(m, m_ref.to(m.dtype), **TOL[dtype])
    v = h - s.to(h.dtype) * (v_th + torch.sigmoid(m))  # v[t] from h[t] and m[t] (NEURONS.md §9)
    torch.testing.assert_close(v, v_ref.to(v.dtype), **TOL[dtype])
    assert_matches_reference(lambda x, **k: ops.clif(x, **k), {"x": x}, backend, tau=tau, v_threshold=v_th)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_clif_half_inputs(target, dtype):
    device, backend = target
    x = fresh_input(device, (5, 7, 12), dtype, seed=46)
    out, grads = assert_matches_reference(lambda x, **k: ops.clif(x, **k), {"x": x}, backend)
    assert out[0].dtype == dtype and grads["x"].dtype == dtype
