"""The compiled CPU backend's runtime: the instruction-set dispatch (each build this CPU runs
equals the reference; a build it cannot run is refused), streaming stores and the output
pool."""
import functools
import os
import subprocess
import sys
import threading

import pytest
import torch

import spikekern
import spikekern.cpu
from spikekern.ops import cuba_lif, lif

HERE = os.path.dirname(os.path.abspath(__file__))
ISAS = ["baseline", "avx2", "avx512"]


def _run_python(code: str, **env) -> subprocess.CompletedProcess:
    full = dict(os.environ, **env)
    for k, v in env.items():
        if v is None:
            full.pop(k)
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=300)


@functools.lru_cache(maxsize=1)  # a fresh process per build: asked once per test session
def _supported() -> tuple[str, ...]:
    """The builds this CPU runs, as the extension itself detects them."""
    out = []
    for isa in ISAS:
        r = _run_python("import spikekern.cpu as c; print(c.isa())", SPIKEKERN_CPU_ISA=isa)
        if r.returncode == 0:
            assert r.stdout.strip() == isa
            out.append(isa)
    return tuple(out)


def test_the_best_build_is_chosen_and_baseline_always_runs():
    supported = _supported()
    assert "baseline" in supported
    assert spikekern.cpu.isa() == supported[-1]
    # Capped, the dispatch picks what a lesser CPU would.
    r = _run_python("import spikekern.cpu as c; print(c.isa())", SPIKEKERN_CPU_ISA=None,
                    SPIKEKERN_CPU_ISA_MAX="baseline")
    assert r.returncode == 0 and r.stdout.strip() == "baseline", r.stderr


@pytest.mark.slow
@pytest.mark.parametrize("isa", ISAS)
def test_backend_suite_per_build(isa):
    """The backend comparisons against the reference loop (and the property tests), with the
    cpp backend forced onto each build this CPU runs, in a fresh process each."""
    if isa not in _supported():
        pytest.skip(f"this CPU cannot run the {isa} build (its dispatch refuses it: see the refusal test)")
    if isa == spikekern.cpu.isa() and not os.environ.get("SPIKEKERN_CPU_ISA"):
        pytest.skip(f"{isa} is this process's build: test_backends.py and test_properties.py run on it already")
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
           os.path.join(HERE, "test_backends.py"), os.path.join(HERE, "test_properties.py"), "-k", "cpp"]
    # Every output streamed on these builds (the streaming copy differs per instruction set);
    # this process's own build runs the suite with the default threshold, and the streaming
    # tests below compare both ways on it.
    r = subprocess.run(cmd, env=dict(os.environ, SPIKEKERN_CPU_ISA=isa, SPIKEKERN_CPU_STREAM_MB="0"),
                       capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, f"SPIKEKERN_CPU_ISA={isa}:\n{r.stdout[-4000:]}\n{r.stderr[-2000:]}"
    assert " passed" in r.stdout


def test_a_build_the_cpu_lacks_is_refused():
    # SPIKEKERN_CPU_ISA_MAX makes this CPU look like one without AVX-512.
    code = ("import torch, spikekern, spikekern.cpu as c\n"
            "print(spikekern.available_backends('cpu'))\n"
            "try:\n    c.isa()\nexcept RuntimeError as e:\n    print('REFUSED', e)\n"
            "with spikekern.use_backend('cpp'):\n    spikekern.nn.LIF()(torch.randn(3, 4))\n")
    r = _run_python(code, SPIKEKERN_CPU_ISA="avx512", SPIKEKERN_CPU_ISA_MAX="avx2")
    assert r.returncode != 0
    assert "'cpp'" not in r.stdout.splitlines()[0]
    assert "REFUSED" in r.stdout and "SPIKEKERN_CPU_ISA=avx512 but this CPU cannot run it" in r.stdout
    assert "backend 'cpp' is not available" in r.stderr and "SPIKEKERN_CPU_ISA=avx512" in r.stderr


@pytest.mark.parametrize("var,value", [("SPIKEKERN_CPU_ISA", "sse9"), ("SPIKEKERN_CPU_ISA_MAX", "avx3")])
def test_unknown_build_names_are_errors(var, value):
    r = _run_python("import spikekern.cpu as c; c.isa()", **{var: value})
    assert r.returncode != 0 and f"{var}={value} is not a CPU kernel build" in r.stderr


def test_bad_pool_size_is_an_error():
    r = _run_python("import torch, spikekern\nwith spikekern.use_backend('cpp'):\n"
                    "    spikekern.nn.LIF()(torch.randn(4, 1 << 20))", SPIKEKERN_CPU_POOL_MB="lots")
    assert r.returncode != 0 and "SPIKEKERN_CPU_POOL_MB=lots is not a size in MB" in r.stderr


# ---------------------------------------------------------------- streaming stores

def _cpp_everything(op, x, **kw):
    """Spikes, potentials and the input gradient of one cpp call (gradients through both)."""
    x = x.detach().requires_grad_(True)
    s, v = op(x, return_v=True, backend="cpp", **kw)
    g_s, g_v = torch.randn_like(s), torch.randn_like(v)
    torch.autograd.backward([s, v], [g_s, g_v])
    spikes_only = op(x.detach(), backend="cpp", **kw)  # the no-grad forward: spikes only
    return s.detach(), v.detach(), x.grad, spikes_only


# T=1, odd widths (rows start unaligned, ragged tails), a non-contiguous input, and a
# width over one block of the kernel's loop.
STREAM_SHAPES = [(1, 7), (3, 33), (5, 1000 + 3), (4, 517)]


@pytest.mark.parametrize("op", [lif, cuba_lif], ids=["lif", "cuba_lif"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
@pytest.mark.parametrize("shape", STREAM_SHAPES, ids=str)
def test_streamed_outputs_equal_plain_ones(stream_threshold, op, dtype, shape):
    """Streaming changes how outputs are stored, never what: every output bit-equal with the
    threshold at 0 (everything streamed) and at its maximum (nothing streamed)."""
    seed = 1000 + STREAM_SHAPES.index(shape)
    torch.manual_seed(seed)
    x = torch.randn(shape[1], shape[0], dtype=torch.float64).t().to(dtype)  # non-contiguous
    if dtype == torch.bfloat16:
        x = x.contiguous()  # and a contiguous one for this dtype
    got = {}
    for name, limit in (("streamed", 0), ("plain", 2 ** 62)):
        stream_threshold(limit)
        torch.manual_seed(seed + 1)  # the same upstream gradients both ways
        got[name] = _cpp_everything(op, x, surrogate="sigmoid", alpha=4.0)
    for a, b, what in zip(got["streamed"], got["plain"], ["s", "v", "grad x", "no-grad s"]):
        assert torch.equal(a, b), f"{what} differs streamed vs plain (seed {seed}, shape {shape}, {dtype})"
    # And both are right: the streamed spikes against the reference loop's.
    want = op(x.detach(), backend="reference", surrogate="sigmoid", alpha=4.0)
    assert torch.equal(got["streamed"][3], want), f"spikes differ from the reference (seed {seed}, shape {shape})"


def _last_level_cache_bytes() -> int:
    """The largest-level data or unified cache of CPU 0 in sysfs (32 MiB if none is listed)."""
    import glob
    best = (0, 32 << 20)
    for d in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*"):
        with open(f"{d}/type") as f:
            if f.read().strip() == "Instruction":
                continue
        with open(f"{d}/level") as f, open(f"{d}/size") as g:
            level, size = int(f.read()), g.read().strip()
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(size[-1], 1)
        if level > best[0]:
            best = (level, int(size.rstrip("KMG")) * scale)
    return best[1]


def test_stream_threshold_default_and_settings(stream_threshold):
    assert spikekern.cpu.stream_min_bytes() == _last_level_cache_bytes() // 2
    stream_threshold(12345)
    assert spikekern.cpu.stream_min_bytes() == 12345
    with pytest.raises(ValueError, match="whole number of bytes"):
        spikekern.cpu.set_stream_min_bytes(-1)
    r = _run_python("import spikekern.cpu as c; print(c.stream_min_bytes())", SPIKEKERN_CPU_STREAM_MB="3")
    assert r.returncode == 0 and r.stdout.strip() == str(3 << 20), r.stderr
    r = _run_python("import torch, spikekern\nspikekern.ops.lif(torch.randn(3, 4), backend='cpp')",
                    SPIKEKERN_CPU_STREAM_MB="big")
    assert r.returncode != 0 and "SPIKEKERN_CPU_STREAM_MB=big is not a size in MB" in r.stderr


# ------------------------------------------------------------------------- the pool

BIG = (8, 1 << 16)  # 2 MiB of float32: pooled (1 MiB and more)


def _lif_fwd_bwd(x):
    x = x.detach().requires_grad_(True)
    s = lif(x, backend="cpp")
    s.sum().backward()
    return s.detach(), x.grad


@pytest.fixture
def pool():
    spikekern.cpu.empty_pool()
    yield spikekern.cpu
    spikekern.cpu.set_pool_limit(1024 << 20)
    spikekern.cpu.empty_pool()


def test_outputs_come_back_to_the_pool_and_are_reused(pool):
    torch.manual_seed(1)
    x = torch.randn(*BIG)
    before = pool.pool_stats()
    s = lif(x, backend="cpp")
    nbytes = s.numel() * s.element_size()
    live = pool.pool_stats()
    assert live["in_use_bytes"] - before["in_use_bytes"] >= nbytes
    del s
    freed = pool.pool_stats()
    assert freed["returned"] == live["returned"] + 1
    assert freed["in_use_bytes"] == before["in_use_bytes"]
    assert freed["cached_bytes"] >= nbytes
    s2 = lif(x, backend="cpp")
    again = pool.pool_stats()
    assert again["hits"] == freed["hits"] + 1 and again["misses"] == freed["misses"]
    torch.testing.assert_close(s2, lif(x, backend="reference"), rtol=0, atol=0)


def test_small_outputs_bypass_the_pool(pool):
    before = pool.pool_stats()
    s = lif(torch.randn(4, 100), backend="cpp")
    del s
    after = pool.pool_stats()
    assert (after["hits"], after["misses"], after["returned"]) == (before["hits"], before["misses"], before["returned"])


def test_outputs_stay_valid_when_the_pool_is_emptied(pool):
    torch.manual_seed(2)
    x = torch.randn(*BIG)
    want_s, want_g = _lif_fwd_bwd(x)
    del want_s, want_g  # their blocks are now idle in the pool
    s, g = _lif_fwd_bwd(x)
    keep_s, keep_g = s.clone(), g.clone()
    pool.empty_pool()
    assert pool.pool_stats()["cached_bytes"] == 0
    pool.set_pool_limit(0)  # no pooling: new outputs come from torch's allocator
    s3, g3 = _lif_fwd_bwd(x)
    torch.testing.assert_close(s, keep_s, rtol=0, atol=0)
    torch.testing.assert_close(g, keep_g, rtol=0, atol=0)
    torch.testing.assert_close(s3, keep_s, rtol=0, atol=0)
    torch.testing.assert_close(g3, keep_g, rtol=0, atol=0)
    del s, g
    assert pool.pool_stats()["cached_bytes"] == 0  # over the limit: freed, not kept


def test_idle_bytes_stay_under_the_limit(pool):
    pool.set_pool_limit(5 << 20)
    outs = [lif(torch.randn(8, (1 << 16) + 4096 * k), backend="cpp") for k in range(4)]  # ~2 MiB each
    del outs
    st = pool.pool_stats()
    assert 0 < st["cached_bytes"] <= 5 << 20 and st["released"] >= 2 and st["in_use_bytes"] == 0


def test_many_threads_at_once(pool):
    """Threads calling the ops together (each its own inputs) get the reference's results,
    and every pooled block is back once their tensors are gone."""
    torch.manual_seed(3)
    inputs = [torch.randn(6, (1 << 16) + 64 * i) for i in range(8)]
    want = [(lif(x, backend="reference"), cuba_lif(x, backend="reference")) for x in inputs]
    got, errors = [None] * len(inputs), []

    def work(i):
        try:
            for _ in range(5):
                got[i] = (lif(inputs[i], backend="cpp"), cuba_lif(inputs[i], backend="cpp"))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for (ws, wc), (gs, gc) in zip(want, got):
        torch.testing.assert_close(gs, ws, rtol=0, atol=0)
        torch.testing.assert_close(gc, wc, rtol=0, atol=0)
    del got, gs, gc
    assert pool.pool_stats()["in_use_bytes"] == 0
