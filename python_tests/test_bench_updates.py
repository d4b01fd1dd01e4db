"""spikekern.bench.updates: how a profiled update is split into groups, and Amdahl's bound."""
import math

import pytest

from spikekern.bench.updates import op_group, speedup_if_free


@pytest.mark.parametrize("name, group", [
    ("spikekern::spike_linear_forward", "spike_linear"), ("spikekern::spike_linear_backward", "spike_linear"),
    ("spikekern::cuba_lif_forward", "neurons"), ("spikekern_triton::plif_backward", "neurons"),
    ("aten::addmm", "dense products"), ("aten::bmm", "dense products"), ("aten::_fused_adam_", "Adam"),
    ("aten::add_", "other"), ("autograd::engine::evaluate_function: AddmmBackward0", "other"),
])
def test_op_group(name, group):
    assert op_group(name) == group


def test_speedup_if_free():
    ms = {"dense products": 6.0, "spike_linear": 1.0, "other": 3.0}
    assert speedup_if_free(ms, ("spike_linear",)) == pytest.approx(10 / 9)
    assert speedup_if_free(ms, ("spike_linear", "dense products")) == pytest.approx(10 / 3)
    assert speedup_if_free(ms, ("Adam",)) == 1.0
    assert math.isinf(speedup_if_free(ms, tuple(ms)))
