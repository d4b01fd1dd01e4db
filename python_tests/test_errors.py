"""Bad input gets one clear error, never a crash or a silent fallback."""
import pytest
import torch

import spikekern
from conftest import CPU_FUSED

ops = spikekern.ops
BACKENDS = ["reference"] + CPU_FUSED


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn", [ops.lif, ops.cuba_lif])
def test_rank_zero_and_empty_time(backend, fn):
    with pytest.raises(ValueError, match="at least 1 dims"):
        fn(torch.tensor(1.0), backend=backend)
    with pytest.raises(ValueError, match="T = 0"):
        fn(torch.zeros(0, 4), backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.bool, torch.complex64])
def test_non_float_dtype(backend, dtype):
    with pytest.raises(TypeError, match="float16, bfloat16, float32 or float64"):
        ops.lif(torch.zeros(3, 4, dtype=dtype), backend=backend)
    with pytest.raises(TypeError, match="float16"):
        ops.cuba_lif(torch.zeros(3, 4, dtype=dtype), backend=backend)


def test_not_a_tensor():
    with pytest.raises(TypeError, match="torch.Tensor"):
        ops.lif([[1.0, 2.0]])


@pytest.mark.parametrize("backend", BACKENDS)
def test_ilc_bad_shapes_and_dtypes(backend):
    x, w, b = torch.zeros(5, 3, 12), torch.zeros(3, 4, 4), torch.zeros(3, 4)
    ops.ilc_cuba_lif(x, w, b, backend=backend)  # the good call works
    with pytest.raises(ValueError, match="A\\*P = 3\\*4 = 12"):
        ops.ilc_cuba_lif(torch.zeros(5, 3, 10), w, b, backend=backend)
    with pytest.raises(ValueError, match="weight must be \\[A, P, P\\]"):
        ops.ilc_cuba_lif(x, torch.zeros(3, 4, 5), b, backend=backend)
    with pytest.raises(ValueError, match="bias must be \\[A, P\\]"):
        ops.ilc_cuba_lif(x, w, torch.zeros(12), backend=backend)
    with pytest.raises(TypeError, match="weight has dtype torch.float64 but x has torch.float32"):
        ops.ilc_cuba_lif(x, w.double(), b, backend=backend)
    with pytest.raises(TypeError, match="bias has dtype"):
        ops.ilc_cuba_lif(x, w, b.half(), backend=backend)
    with pytest.raises(ValueError, match="at least 2 dims"):
        ops.ilc_cuba_lif(torch.zeros(12), w, b, backend=backend)


def test_mismatched_devices():
    x, w, b = torch.zeros(5, 3, 12), torch.zeros(3, 4, 4, device="meta"), torch.zeros(3, 4)
    with pytest.raises(ValueError, match="weight is on meta but x is on cpu"):
        ops.ilc_cuba_lif(x, w, b)
    with pytest.raises(ValueError, match="v_init is on meta"):
        ops.lif(torch.zeros(3, 4), v_init=torch.zeros(4, device="meta"))


def test_v_init_shape():
    with pytest.raises(ValueError, match="does not broadcast"):
        ops.lif(torch.zeros(3, 4), v_init=torch.zeros(5))


@pytest.mark.parametrize("fn", [ops.lif, ops.cuba_lif])
def test_unknown_surrogate_and_bad_alpha(fn):
    with pytest.raises(ValueError, match="unknown surrogate 'relu'.*'atan'"):
        fn(torch.zeros(3, 4), surrogate="relu")
    with pytest.raises(ValueError, match="positive"):
        fn(torch.zeros(3, 4), surrogate="rect", alpha=0.0)


def test_bad_neuron_parameters():
    with pytest.raises(ValueError, match="tau must be >= 1"):
        ops.lif(torch.zeros(3, 4), tau=0.5)
    with pytest.raises(ValueError, match="IF neuron; it needs decay_input=False"):
        ops.lif(torch.zeros(3, 4), tau=float("inf"))
    with pytest.raises(ValueError, match="c_decay must be in"):
        ops.cuba_lif(torch.zeros(3, 4), c_decay=1.5)


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown backend 'fast'"):
        ops.lif(torch.zeros(3, 4), backend="fast")
    with pytest.raises(ValueError, match="unknown backend"):
        spikekern.set_backend("gpu")


def test_unavailable_backends_say_what_is_missing(monkeypatch):
    x = torch.zeros(3, 4)
    with pytest.raises(RuntimeError, match="backend 'cuda' is not available: .*CUDA tensors"):
        ops.lif(x, backend="cuda")
    with pytest.raises(RuntimeError, match="backend 'cpp' runs on CPU tensors; this tensor is on meta"):
        ops.lif(x.to("meta"), backend="cpp")
    from spikekern.backends import triton_backend

    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    assert "TRITON_INTERPRET=1" in triton_backend.why_unavailable("cpu")
    assert "do not run on meta" in triton_backend.why_unavailable("meta")


def test_unknown_decode():
    with pytest.raises(ValueError, match="unknown decode 'last'"):
        ops.nonspiking_if(torch.zeros(3, 4), "last")


def test_backward_after_no_grad_forward_is_an_error():
    # Calling the op directly with save_h=False but a grad-requiring input: clear error.
    x = torch.randn(3, 4, requires_grad=True)
    s, _, _ = torch.ops.spikekern.lif_forward(x, None, 0.5, 0.5, 0.0, 1.0, 0.0, False, False, 2, 4.0, False, False)
    with pytest.raises(RuntimeError, match="saved nothing"):
        s.sum().backward()


def test_set_and_scoped_backend():
    x = torch.randn(4, 3)
    assert spikekern.get_backend() == "auto"
    with spikekern.use_backend("reference"):
        assert spikekern.get_backend() == "reference"
        with pytest.raises(RuntimeError, match="'cuda' is not available"):
            with spikekern.use_backend("cuda"):
                ops.lif(x)
        assert spikekern.get_backend() == "reference"
    assert spikekern.get_backend() == "auto"
    spikekern.set_backend("cpp")
    try:
        assert torch.equal(ops.lif(x), ops.lif(x, backend="reference"))
    finally:
        spikekern.set_backend("auto")


def test_available_backends_cpu():
    assert spikekern.available_backends("cpu")[:2] == ["reference", "cpp"]
    assert "cuda" not in spikekern.available_backends("cpu")
