"""Every neuron op is everywhere it must be (docs/ARCHITECTURE.md, "Adding a neuron"), derived
from the ops the extension registers, so no list here has to be kept by hand: a new op that a
backend, the fake kernels, the public functions, the bench cases or the Triton compile list
lacks is named by the test that fails."""
import importlib.util
import re
from pathlib import Path

import pytest
import torch

import spikekern  # noqa: F401  (loads the extension and registers the ops)
from spikekern import ops
from spikekern.backends import reference
from spikekern.bench.report import FULL_CASES, QUICK_CASES

ROOT = Path(__file__).resolve().parents[1]
LIB = "spikekern"


def registered() -> set[str]:
    return {n.split("::", 1)[1] for n in torch._C._dispatch_get_all_op_names() if n.startswith(f"{LIB}::")}


# neuron ops: a <name>_forward with its <name>_backward; spike_linear is a layer, not a neuron
NEURONS = sorted(n.removesuffix("_forward") for n in registered()
                 if n.endswith("_forward") and not n.startswith("spike_linear"))


def test_the_neuron_ops_are_found():
    assert {"lif", "cuba_lif", "ilc_cuba_lif"} <= set(NEURONS), NEURONS


@pytest.mark.parametrize("neuron", NEURONS)
def test_schemas_cpu_kernels_and_autograd(neuron):
    for op in (f"{neuron}_forward", f"{neuron}_backward"):
        assert op in registered(), f"{op}: no schema (csrc/op_schemas.cpp)"
        assert torch._C._dispatch_has_kernel_for_dispatch_key(f"{LIB}::{op}", "CPU"), \
            f"{op}: no CPU kernel (csrc/cpu/ops_cpu.cpp)"
    assert torch._C._dispatch_has_kernel_for_dispatch_key(f"{LIB}::{neuron}_forward", "Autograd"), \
        f"{neuron}_forward: no autograd (csrc/autograd.cpp)"


@pytest.mark.parametrize("neuron", NEURONS)
def test_fake_kernels(neuron):
    from torch._library.simple_registry import singleton

    for op in (f"{neuron}_forward", f"{neuron}_backward"):
        assert singleton.find(f"{LIB}::{op}").fake_impl.kernel is not None, \
            f"{op}: no fake kernel (spikekern/ops/fake_kernels.py)"


@pytest.mark.parametrize("neuron", NEURONS)
def test_cuda_binding(neuron):
    """The CUDA binding registers both ops (read from its source: this machine may have no
    CUDA build)."""
    src = (ROOT / "csrc" / "cuda" / "ops_cuda.cpp").read_text()
    for op in (f"{neuron}_forward", f"{neuron}_backward"):
        assert re.search(rf'm\.impl\("{op}"', src), f"{op}: not bound in csrc/cuda/ops_cuda.cpp"


@pytest.mark.parametrize("neuron", NEURONS)
def test_public_function_reference_loop_and_bench_case(neuron):
    assert callable(getattr(ops, neuron, None)), f"spikekern.ops.{neuron} is missing"
    assert callable(getattr(reference, neuron, None)), f"spikekern.backends.reference.{neuron} is missing"
    for cases, name in ((FULL_CASES, "FULL_CASES"), (QUICK_CASES, "QUICK_CASES")):
        assert neuron in {c.neuron for c in cases}, f"no bench case for {neuron} in {name} (spikekern/bench/cases.py, NEURON_FNS)"


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton is not installed")
@pytest.mark.parametrize("neuron", NEURONS)
def test_triton_ops_and_compile_list(neuron):
    from spikekern.backends import triton_backend
    from spikekern.backends.triton_backend import ahead

    assert callable(getattr(triton_backend, f"{neuron}_forward", None)), \
        f"{neuron}_forward: not exported by the Triton backend (triton_backend/ops.py, __all__)"
    for op in (f"{neuron}_forward", f"{neuron}_backward"):
        assert hasattr(torch.ops.spikekern_triton, op), f"{op}: no triton_op (triton_backend/ops.py)"
        assert f"{op}_kernel" in {k.fn.__name__ for k in ahead.KERNELS}, \
            f"{op}_kernel: not in the ahead-of-time compile list (triton_backend/ahead.py)"


def test_a_neuron_output_without_a_shape_rule_is_refused_by_name():
    """The neuron ops' fake kernels follow from their schemas' output names; an output named
    otherwise is an error that says which op and where to go, not a wrong shape later."""
    from spikekern.ops import fake_kernels

    ok = torch._C.parse_schema("spikekern::adlif_forward(Tensor x, float tau, bool save_h) -> (Tensor spikes, Tensor h)")
    x = torch.empty(3, 4, dtype=torch.float16, device="meta")
    s, h = fake_kernels._neuron_fake(ok)(x, 2.0, True)
    assert s.shape == h.shape == x.shape and s.dtype == torch.float16 and h.dtype == torch.float32
    s, h = fake_kernels._neuron_fake(ok)(x, 2.0, save_h=False)
    assert h.shape == (0,)
    bad = torch._C.parse_schema("spikekern::adlif_forward(Tensor x) -> (Tensor spikes, Tensor w)")
    with pytest.raises(RuntimeError, match=r"adlif_forward returns \['w'\].*fake_kernels.py"):
        fake_kernels._neuron_fake(bad)
