"""spike_linear against torch.nn.functional.linear: outputs and the gradients of s, weight and
bias over shapes, densities from 0 to 100% (both sides of the dense crossover), dtypes, batch
layouts and strides; the bits it saves; the checking mode; opcheck and torch.compile."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

import spikekern
from helpers import DRAWN, TOL
from spikekern.ops import spike_linear
from spikekern.ops.spike_linear import set_spike_check

BACKENDS = ["cpp", "reference"]


def spikes(shape, density, dtype, g):
    return (torch.rand(shape, generator=g, dtype=torch.float64) < density).to(dtype)


def grads_of(fn, s, w, b, gy):
    leaves = [t.clone().requires_grad_(True) if t is not None else None for t in (s, w, b)]
    y = fn(*leaves)
    y.backward(gy)
    return y.detach(), [t.grad if t is not None else None for t in leaves]


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=60, deadline=None)
@given(lead=st.lists(st.integers(0, 5), min_size=0, max_size=2), n_in=st.integers(1, 140), n_out=st.integers(1, 70),
       density=st.sampled_from([0.0, 0.01, 0.1, 0.3, 0.7, 1.0]), dtype=st.sampled_from([torch.float32, torch.float64]),
       bias=st.booleans(), strided=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_equals_linear_with_gradients(backend, lead, n_in, n_out, density, dtype, bias, strided, seed):
    DRAWN.append(f"lead={lead} in={n_in} out={n_out} density={density} dtype={dtype} bias={bias} strided={strided} "
                 f"seed={seed}")
    g = torch.Generator().manual_seed(seed)
    s = spikes((*lead, 2 * n_in if strided else n_in), density, dtype, g)
    s = s[..., ::2] if strided else s  # every other column: a non-contiguous input
    w = torch.randn(n_out, n_in, generator=g, dtype=dtype)
    b = torch.randn(n_out, generator=g, dtype=dtype) if bias else None
    gy = torch.randn(*lead, n_out, generator=g, dtype=dtype)
    y, grads = grads_of(lambda *a: spike_linear(*a, backend=backend), s, w, b, gy)
    y_ref, grads_ref = grads_of(F.linear, s, w, b, gy)
    tol = TOL[dtype] if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(y, y_ref, **tol)
    for name, got, ref in zip(("s", "weight", "bias"), grads, grads_ref):
        if ref is not None:
            torch.testing.assert_close(got, ref, **tol, msg=lambda m: f"grad of {name}: {m}")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_runs_the_dense_path_exactly(dtype):
    g = torch.Generator().manual_seed(3)
    s, w, b = spikes((4, 9, 37), 0.2, dtype, g), torch.randn(11, 37, generator=g).to(dtype), torch.randn(11).to(dtype)
    gy = torch.randn(4, 9, 11, generator=g).to(dtype)
    y, grads = grads_of(lambda *a: spike_linear(*a, backend="cpp"), s, w, b, gy)
    y_ref, grads_ref = grads_of(F.linear, s, w, b, gy)
    torch.testing.assert_close(y, y_ref, **TOL[dtype])
    for got, ref in zip(grads, grads_ref):
        torch.testing.assert_close(got, ref, **TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_saved_bits_are_the_spikes_eight_per_byte(dtype):
    g = torch.Generator().manual_seed(1)
    for n_in in (1, 63, 64, 65, 200):
        s = spikes((7, n_in), 0.4, dtype, g)
        _, bits, count = torch.ops.spikekern.spike_linear_forward(s, torch.ones(3, n_in, dtype=dtype), None, True)
        assert bits.dtype == torch.uint8 and bits.shape == (7, 8 * ((n_in + 63) // 64))
        unpacked = np.unpackbits(bits.numpy(), axis=1, bitorder="little")[:, :n_in]
        assert np.array_equal(unpacked, (s != 0).numpy()), n_in
        assert int(count) == int((s != 0).sum())


def test_what_is_saved_for_backward_is_bits():
    """The autograd graph of spike_linear keeps the spikes as uint8 bits (1/32 of float32 s)
    and the weight, not s."""
    s = (torch.rand(500, 256) < 0.1).float().requires_grad_()
    w = torch.randn(60, 256, requires_grad=True)
    saved = []

    def pack(t):
        saved.append((t.dtype, tuple(t.shape)))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        spike_linear(s, w, backend="cpp").sum().backward()
    assert (torch.uint8, (500, 32)) in saved and (torch.float32, (500, 256)) not in saved


@pytest.mark.parametrize("backend", BACKENDS)
def test_checking_mode_refuses_non_binary_input(backend):
    s = torch.tensor([[0.0, 1.0, 0.5]])
    w = torch.ones(2, 3)
    before = set_spike_check(True)
    try:
        with pytest.raises((ValueError, RuntimeError), match="neither 0 nor 1"):
            spike_linear(s, w, backend=backend)
        set_spike_check(False)  # normal mode: nothing checked; the sparse path counts any nonzero as 1
        sparse = torch.zeros(1, 40)  # 2.5% ones into 130 outputs: the sparse path
        sparse[0, 3] = 0.5
        w = torch.ones(130, 40)
        expected = torch.ones(1, 130) if backend == "cpp" else F.linear(sparse, w)
        assert torch.equal(spike_linear(sparse, w, backend=backend), expected)
    finally:
        set_spike_check(before)


def test_bad_shapes_and_types_are_clear_errors():
    w = torch.ones(4, 5)
    with pytest.raises(ValueError, match=r"s must be \[\.\.\., in=5\]"):
        spike_linear(torch.ones(2, 6), w)
    with pytest.raises(ValueError, match=r"bias must be \[out=4\]"):
        spike_linear(torch.ones(2, 5), w, torch.ones(5))
    with pytest.raises(TypeError, match="s must be a floating tensor"):
        spike_linear(torch.ones(2, 5, dtype=torch.int64), w)
    with pytest.raises(TypeError, match="dtype"):
        spike_linear(torch.ones(2, 5, dtype=torch.float64), w)


def test_opcheck():
    g = torch.Generator().manual_seed(0)
    s, w, b = spikes((6, 70), 0.1, torch.float32, g), torch.randn(9, 70, generator=g), torch.randn(9, generator=g)
    for args in ((s, w, b, True), (s.double(), w.double(), None, False), (s.view(2, 3, 70), w, b, True)):
        torch.library.opcheck(torch.ops.spikekern.spike_linear_forward.default, args)


def test_compiles():
    g = torch.Generator().manual_seed(2)
    s, w = spikes((8, 40), 0.1, torch.float32, g), torch.randn(5, 40, generator=g, requires_grad=True)
    fn = torch.compile(lambda s, w: spike_linear(s, w, backend="cpp").square().sum(), fullgraph=True)
    fn(s, w).backward()
    ref = w.detach().clone().requires_grad_()
    F.linear(s, ref).square().sum().backward()
    torch.testing.assert_close(w.grad, ref.grad)


def test_dense_crossover_is_stated():
    wide, narrow = (spikekern.ops.spike_linear_module.dense_from(n) for n in (256, 60))
    assert 0.0 < narrow <= wide <= 1.0


def _python(code: str, **env) -> subprocess.CompletedProcess:
    """code in a fresh process (the crossover is read once per process), with only `env` set
    of the variables that steer the CPU kernels."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("SPIKEKERN_")}
    return subprocess.run([sys.executable, "-c", code], env=dict(full, **env), capture_output=True, text=True,
                          timeout=300)


def _crossovers(**env) -> tuple[float, float]:
    r = _python("import spikekern.ops as o; print(*(o.spike_linear_module.dense_from(n) for n in (256, 60)))", **env)
    assert r.returncode == 0, r.stderr
    wide, narrow = map(float, r.stdout.split())
    return wide, narrow


def test_dense_crossover_follows_the_cpu_and_the_override():
    """The crossovers measured on a CPU with AVX2 at most apply there (SPIKEKERN_CPU_ISA_MAX
    makes this CPU look like one), the lower ones elsewhere; SPIKEKERN_SPIKE_DENSE overrides
    both."""
    assert _crossovers(SPIKEKERN_CPU_ISA_MAX="baseline") == (0.20, 0.05)
    assert _crossovers(SPIKEKERN_CPU_ISA_MAX="baseline", SPIKEKERN_SPIKE_DENSE="0.5") == (0.5, 0.5)
    if _python("import spikekern.cpu as c; c.isa()", SPIKEKERN_CPU_ISA="avx2").returncode != 0:
        pytest.skip("this CPU has no AVX2: the AVX2 CPU's crossovers cannot be seen on it")
    assert _crossovers(SPIKEKERN_CPU_ISA_MAX="avx2") == (0.30, 0.25)


@pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1", reason="backend 'triton' runs CPU tensors only in "
                    "Triton's interpreter (TRITON_INTERPRET=1, which conftest.py sets without a GPU)")
def test_triton_backend_runs_the_cxx_op_or_says_it_cannot(monkeypatch):
    """No Triton kernel: backend 'triton' runs the C++ op of the device; where that op is
    missing, the dense product with one warning."""
    from spikekern import _backend
    module = spikekern.ops.spike_linear_module

    g = torch.Generator().manual_seed(4)
    s, w = spikes((6, 130), 0.05, torch.float32, g), torch.randn(140, 130, generator=g)
    _, bits, _ = torch.ops.spikekern.spike_linear_forward(s, w, None, True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.dtype) or t, lambda t: t):
        y = spike_linear(s, w.requires_grad_(), backend="triton")
    assert torch.uint8 in saved  # the C++ op ran: it keeps bits
    torch.testing.assert_close(y, F.linear(s, w), rtol=1e-5, atol=1e-4)
    real = _backend.why_unavailable
    monkeypatch.setattr(_backend, "why_unavailable", lambda n, d="cpu": "not built" if n == "cpp" else real(n, d))
    monkeypatch.setattr(module, "_warned", set())
    with pytest.warns(UserWarning, match="running torch.nn.functional.linear"):
        torch.testing.assert_close(spike_linear(s, w, backend="triton"), F.linear(s, w))
