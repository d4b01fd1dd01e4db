"""Every Triton kernel compiles for the GPUs the project targets (sm_90: H100/H200), on this
machine without a GPU: see spikekern/backends/triton_backend/ahead.py."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest


pytestmark = pytest.mark.skipif(importlib.util.find_spec("triton") is None,
                                reason="triton is not installed")


@pytest.mark.slow
def test_every_triton_kernel_compiles_for_sm90():
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")  # the default; set to silence its warning
    r = subprocess.run([sys.executable, "-m", "spikekern.backends.triton_backend.ahead", "90"], env=env,
                       capture_output=True, text=True, timeout=900)
    cases = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    failures = [c for c in cases if "error" in c]
    assert not failures, "\n".join(json.dumps(c) for c in failures)
    assert r.returncode == 0, r.stderr[-3000:]
    # Each kernel of the list compiled, in each I/O dtype, to a non-empty cubin (the list itself
    # is checked against the registered ops in test_op_coverage.py).
    from spikekern.backends.triton_backend.ahead import DTYPES, KERNELS

    compiled = {(c["kernel"], c["dtype"]) for c in cases if c.get("cubin_bytes", 0) > 0}
    assert compiled == {(k.__name__, d) for k in KERNELS for d in DTYPES}, sorted(compiled)
