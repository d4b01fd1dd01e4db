"""The benchmark report machinery on tiny cases: peers are checked before timing, rows and
figures are written."""
import pytest
import torch

from spikekern.bench import peers, plots, report
from spikekern.bench.cases import Case, make_inputs


def test_peer_semantics_check_flags_a_different_neuron():
    case = Case("lif", 4, 64)
    inputs = make_inputs(case)
    same = lambda x: peers.reference_spikes(case, dict(inputs, x=x))
    assert peers.check_semantics(same, case, inputs) == 0.0
    shifted = lambda x: peers.reference_spikes(case, dict(inputs, x=x + 0.5))
    assert peers.check_semantics(shifted, case, inputs) > peers.SPIKE_TOLERANCE


def test_saved_bytes_of_the_fused_op_is_h_only():
    import spikekern

    x = torch.randn(8, 256)
    assert peers.saved_bytes_per_step(lambda t: spikekern.ops.lif(t, backend="cpp"), x) == 4.0


@pytest.mark.slow
def test_report_rows_markdown_and_figures(tmp_path):
    cases = [Case("lif", 4, 512), Case("ilc_cuba_lif", 3, 8, 2, 4)]
    rows = report.run_suite(cases, ["reference", "cpp"], rounds=2, log=lambda *_: None,
                            peer_names=["spikingjelly", "snntorch"])
    timed = [r for r in rows if r["status"] == "ok"]
    assert {r["backend"] for r in timed} >= {"reference", "cpp"}
    assert all(r["ms"] > 0 and r["speedup_vs_reference"] > 0 for r in timed)
    # snnTorch's Leaky resets differently (NEURONS.md semantics are not its): reported, not timed.
    assert any(r["backend"] == "snntorch" and r["status"].startswith("differs") for r in rows)
    figures = plots.figures(tmp_path, rows, [dict(axis="N", T=4, N=512, backend="cpp", ms=1.0),
                                             dict(axis="T", T=4, N=512, backend="cpp", ms=1.0)],
                            [dict(neuron="lif", backend="cpp", saved_bytes_per_neuron_step=4.0, peak_bytes_per_neuron_step=12.0)])
    assert all(p.exists() and p.stat().st_size > 1000 for p in figures)
    md = report.to_markdown(rows, [], [dict(neuron="lif", backend="cpp", saved_bytes_per_neuron_step=4.0, peak_bytes_per_neuron_step=12.0)], figures, {})
    assert "| lif | T=4 N=2^9 | fwd+bwd | cpp |" in md and "differs" in md


def test_peak_memory_of_the_fused_op():
    import spikekern
    from spikekern.bench.memory import peak_fwd_bwd_bytes

    x, g = torch.randn(8, 1024), torch.randn(8, 1024)
    # spikes (4 B) + saved h (4 B) + grad_x (4 B) per neuron-step, nothing else
    assert peak_fwd_bwd_bytes(lambda t: spikekern.ops.lif(t, backend="cpp"), x, g) == 12 * x.numel()
    assert peak_fwd_bwd_bytes(lambda t: spikekern.ops.lif(t, backend="reference"), x, g) > 24 * x.numel()


def test_report_header_names_the_cpu_runtime_in_use(stream_threshold):
    """A report says which kernel build ran, and how outputs were allocated and stored."""
    import spikekern.cpu

    stream_threshold(3 << 20)
    info = report.machine_info("cpu")
    assert info["cpu_isa"] == spikekern.cpu.isa()
    assert info["cpu_stream_min_mb"] == 3
    assert info["cpu_pool_limit_mb"] == spikekern.cpu.pool_stats()["limit_bytes"] >> 20


def test_report_header_says_whether_glibc_was_tuned():
    """malloc_tuned is what the process did: False in a fresh process, True once
    keep_freed_memory() succeeded (glibc accepts it on Linux)."""
    import subprocess
    import sys

    code = ("from spikekern import _malloc; from spikekern.bench import report; "
            "before = report.machine_info('cpu')['malloc_tuned']; ok = _malloc.keep_freed_memory(); "
            "print(before, ok, report.machine_info('cpu')['malloc_tuned'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True", "True"], out
