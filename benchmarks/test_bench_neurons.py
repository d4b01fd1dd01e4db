"""pytest-benchmark suite: each neuron x backend, fwd and fwd+bwd, float32.

    pytest benchmarks/ --benchmark-group-by=param:case,param:mode

Sizes come from spikekern.bench.report (the same cases `spikekern bench` reports).
`--benchmark-disable` runs each case once as a smoke test (CI does this).
"""
import pytest
import torch

import spikekern
from spikekern import _malloc
from spikekern.bench.cases import Case, make_inputs, neuron_fn, runner

_malloc.keep_freed_memory()  # same allocator setting for every backend timed here

CASES = [Case("lif", 16, 1 << 18), Case("cuba_lif", 16, 1 << 18), Case("ilc_cuba_lif", 5, 100, 6, 10),
         Case("plif", 16, 1 << 18), Case("clif", 16, 1 << 18)]
BACKENDS = spikekern.available_backends("cpu")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["fwd", "fwd+bwd"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.neuron}[{c.label}]")
def test_neuron(benchmark, case, mode, backend):
    inputs = make_inputs(case, torch.float32)
    benchmark.extra_info.update(neuron=case.neuron, size=case.label, min_bytes=case.min_bytes(mode, torch.float32))
    benchmark(runner(case, mode, inputs, backend))
    # What was timed computes what the reference loop does (also with --benchmark-disable).
    got, want = _outputs(case, mode, inputs, backend), _outputs(case, mode, inputs, "reference")
    assert torch.equal(got[0], want[0]), "spikes differ from the reference loop"
    for g, w in zip(got[1:], want[1:]):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


def _outputs(case, mode, inputs, backend) -> list:
    """The spikes, and for fwd+bwd the gradients of every input that takes one."""
    leaves = {k: v.detach().requires_grad_(mode == "fwd+bwd") for k, v in inputs.items() if k in ("x", "weight", "bias")}
    spikes = neuron_fn(case)(dict(inputs, **leaves), backend)
    if mode == "fwd":
        return [spikes.detach()]
    return [spikes.detach(), *torch.autograd.grad(spikes, list(leaves.values()), inputs["grad"])]
