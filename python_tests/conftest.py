import os
import sys

import torch

# Without a GPU, Triton kernels run on CPU tensors in Triton's interpreter; it must be
# chosen before triton is imported.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
# spike_linear's checking mode: every test that feeds it checks that its input is spikes.
os.environ.setdefault("SPIKEKERN_CHECK_SPIKES", "1")
# Reports made by the tests (sweeps' included) bootstrap with fewer resamples than the
# default 5,000: their intervals are checked for what they are, not for Monte Carlo accuracy
# (test_statistics.py sets more where it compares an interval with its own bootstrap).
os.environ.setdefault("SPIKEKERN_BOOTSTRAP_REPS", "300")

import pytest  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))

import spikekern  # noqa: E402
import helpers  # noqa: E402

_INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"
_NO_GPU = "no CUDA device on this machine; the GPU suite (benchmarks/gpu_suite.sh) runs these on a GPU"

# The fused backends that must run on CPU tensors in every test run: a missing extension
# (or, under the interpreter, a missing triton) makes these tests fail, never skip.
CPU_FUSED = ["cpp"] + (["triton"] if _INTERPRET else [])


def _gpu_targets():
    if not torch.cuda.is_available():
        return [pytest.param(("cuda", b), id=f"cuda-{b}", marks=pytest.mark.skip(reason=_NO_GPU))
                for b in ("cuda", "triton")]
    targets = [pytest.param(("cuda", "triton"), id="cuda-triton")]
    if "cuda" in spikekern.available_backends("cuda"):
        targets.append(pytest.param(("cuda", "cuda"), id="cuda-cuda"))
    else:
        targets.append(pytest.param(("cuda", "cuda"), id="cuda-cuda", marks=pytest.mark.skip(
            reason="this build of spikekern._C has no CUDA kernels")))
    return targets


# (device, backend) pairs every backend-comparison test runs on.
TARGETS = [pytest.param(("cpu", b), id=f"cpu-{b}") for b in CPU_FUSED] + _gpu_targets()


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    helpers.DRAWN.clear()
    yield


@pytest.fixture
def stream_threshold():
    """spikekern.cpu.set_stream_min_bytes, with the threshold put back after the test."""
    import spikekern.cpu

    saved = spikekern.cpu.stream_min_bytes()
    yield spikekern.cpu.set_stream_min_bytes
    spikekern.cpu.set_stream_min_bytes(saved)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report lists the seeds and shapes of every input it drew."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and helpers.DRAWN:
        report.sections.append(("inputs drawn (seed, shape, dtype)", "\n".join(helpers.DRAWN)))


def pytest_report_header(config):
    return (f"spikekern backends on cpu: {spikekern.available_backends('cpu')}; "
            f"cuda available: {torch.cuda.is_available()}; triton interpreter: {_INTERPRET}")
