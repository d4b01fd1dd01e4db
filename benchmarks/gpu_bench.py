"""GPU timings of every backend and peer, written as JSON (run by benchmarks/gpu_suite.sh).

Each case is timed with CUDA events (median of many runs) over several input sets in
rotation, so the L2 cache does not serve them; bandwidth counts the minimal bytes of
spikekern.bench.cases and is compared with a device-to-device copy measured in the same run.
Every backend's output is checked against the reference loop before it is timed.

    python benchmarks/gpu_bench.py --out DIR [--quick]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

import spikekern
from spikekern.bench import peers
from spikekern.bench.cases import Case, make_inputs, runner

ROTATE = 4  # input sets per case; 4 x (x + grad) at N=2^24, T=16 is 2 GiB, far past L2


def time_cuda(fns, repeats: int) -> float:
    """Median ms of one call, cycling through fns (one per input set)."""
    for f in fns:
        f()
    torch.cuda.synchronize()
    times = []
    for i in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fns[i % len(fns)]()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def copy_bandwidth(nbytes: int = 1 << 30) -> float:
    src = torch.empty(nbytes // 4, device="cuda").uniform_()
    dst = torch.empty_like(src)
    ms = time_cuda([lambda: dst.copy_(src)], 50)
    return 2 * nbytes / ms / 1e6  # GB/s, read + write


def peer_runners(case: Case, mode: str, input_sets: list[dict]) -> dict:
    """Peers (spikekern.bench.peers: SpikingJelly, snnTorch, torch.compile of the reference)
    whose spikes match the reference on this input, one runner per input set."""
    out = {}
    for name, make in peers.PEERS.items():
        try:
            made = [make(case, inp) for inp in input_sets]
        except peers.PeerUnavailable as exc:
            print(f"{case.neuron} {case.label}: peer {name} unavailable ({exc})")
            continue
        diff = peers.check_semantics(made[0], case, input_sets[0])
        if diff > peers.SPIKE_TOLERANCE:
            print(f"{case.neuron} {case.label}: peer {name} differs on {100 * diff:.2f}% of spikes, not timed")
            continue
        out[name] = [peers.peer_runner(p, mode, inp) for p, inp in zip(made, input_sets)]
    return out


def check(case: Case, inputs: dict, backend: str) -> float:
    """Max |spikes - reference spikes| (0 where potentials agree)."""
    from spikekern.bench.cases import neuron_fn

    f = neuron_fn(case)
    with torch.no_grad():
        return (f(inputs, backend).float() - f(inputs, "reference").float()).abs().max().item()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    assert torch.cuda.is_available(), "gpu_bench needs a CUDA device"
    backends = [b for b in spikekern.available_backends("cuda") if b != "reference"]
    cases = [Case("lif", 16, 1 << 24), Case("cuba_lif", 16, 1 << 24), Case("ilc_cuba_lif", 5, 100, 6, 10),
             Case("cuba_lif", 5, 100 * 60), Case("ilc_cuba_lif", 16, 4096, 6, 10), Case("cuba_lif", 16, 4096 * 256),
             Case("lif", 5, 100 * 256), Case("plif", 16, 1 << 24), Case("clif", 16, 1 << 24)]
    if args.quick:
        cases = cases[:3]
    copy_gbs = copy_bandwidth()
    info = dict(gpu=torch.cuda.get_device_name(), torch=torch.__version__, copy_gbs=copy_gbs, backends=backends)
    print(f"{info['gpu']}: copy {copy_gbs:.0f} GB/s; backends {backends}")
    rows = []
    for case in cases:
        input_sets = [make_inputs(case, torch.float32, "cuda", seed=i) for i in range(ROTATE)]
        for mode in ("fwd", "fwd+bwd"):
            candidates = {b: [runner(case, mode, inp, b) for inp in input_sets] for b in ["reference"] + backends}
            candidates.update(peer_runners(case, mode, input_sets))
            for name, fns in candidates.items():
                big = case.neurons * case.T >= 1 << 22
                reps = 20 if name == "reference" and big else 200
                ms = time_cuda(fns, reps)
                gbs = case.min_bytes(mode, torch.float32) / ms / 1e6
                err = check(case, input_sets[0], name) if name in backends else None
                rows.append(dict(neuron=case.neuron, size=case.label, mode=mode, backend=name, ms=ms, gbs=gbs,
                                 pct_copy=100 * gbs / copy_gbs, max_spike_diff=err))
            ref = next(r["ms"] for r in rows if r["size"] == case.label and r["neuron"] == case.neuron
                       and r["mode"] == mode and r["backend"] == "reference")
            for r in rows:
                if r["size"] == case.label and r["neuron"] == case.neuron and r["mode"] == mode:
                    r["speedup_vs_reference"] = ref / r["ms"]
                    print(f"{r['neuron']:<13} {r['size']:<22} {mode:<8} {r['backend']:<20} {r['ms']:9.3f} ms "
                          f"{r['gbs']:8.0f} GB/s {r['pct_copy']:5.0f}% copy  x{r['speedup_vs_reference']:.1f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_results.json").write_text(json.dumps(dict(machine=info, results=rows), indent=1))
    print(f"wrote {out / 'gpu_results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
