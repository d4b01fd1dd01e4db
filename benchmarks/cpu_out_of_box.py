"""CPU speed as a user meets it: a fresh process that imports spikekern and calls the op,
nothing else set up. LIF and CUBA-LIF (--neurons: any of lif, cuba_lif, plif, clif) at T=16,
N=2^20, float32, 2 threads, forward (no
grad) and forward+backward, against SpikingJelly 2.0's multi-step node (it picks its own
CPU implementation; its spikes are checked against the reference loop first) and
torch.compile of the reference loop, all timed interleaved in one process with a plain
tensor copy for the bandwidth floor.

Every configuration runs in its own fresh process: each CPU instruction-set path
(SPIKEKERN_CPU_ISA, default: the machine's own, and avx2 forced) under both allocator
states (the process allocator as is, and after spikekern._malloc.keep_freed_memory()).

    python benchmarks/cpu_out_of_box.py --out benchmarks/results/cpu/out_of_box.json
    python benchmarks/cpu_out_of_box.py --neurons lif plif --malloc default --out benchmarks/results/cpu/plif/plif.json
    python benchmarks/cpu_out_of_box.py --neurons lif clif --isa avx2 --malloc default --out benchmarks/results/cpu/clif/run-1.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from spikekern.bench import fresh

PEERS = ["spikingjelly", "torch.compile(ref)"]
NEURONS = ("lif", "cuba_lif", "plif", "clif")


def child(malloc: str, threads: int, rounds: int, neurons: list[str]) -> None:
    import torch

    from spikekern import _malloc
    from spikekern.bench import report
    from spikekern.bench.cases import Case

    torch.set_num_threads(threads)
    if malloc == "keep":
        _malloc.keep_freed_memory()
    cases = [Case(n, 16, 1 << 20) for n in neurons]
    rows = report.run_suite(cases, ["cpp"], rounds=rounds, peer_names=PEERS, log=lambda s: print(s, flush=True))
    fresh.emit(dict(machine=report.machine_info("cpu"), rows=rows))


def summarize(runs: list[dict]) -> list[str]:
    lines = []
    for run in runs:
        by = {(r["neuron"], r["mode"], r["backend"]): r for r in run["rows"] if r.get("status") == "ok"}
        for neuron in NEURONS:
            for mode in ("fwd", "fwd+bwd"):
                cpp = by.get((neuron, mode, "cpp"))
                if cpp is None:
                    continue
                ratios = "  ".join(f"{p} {by[(neuron, mode, p)]['ms'] / cpp['ms']:.2f}x"
                                   for p in PEERS if (neuron, mode, p) in by)
                lif = by.get(("lif", mode, "cpp"))
                vs_lif = f"  ({cpp['ms'] / lif['ms']:.2f}x LIF's time)" if lif and neuron != "lif" else ""
                lines.append(f"isa={run['machine'].get('cpu_isa', '?'):<8} malloc={run['malloc']:<8} {neuron:<9} "
                             f"{mode:<8} cpp {cpp['ms']:7.2f} ms ({cpp['pct_copy']:.0f}% of copy)  vs cpp: {ratios}"
                             + vs_lif)
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--isa", nargs="+", default=["", "avx2"],
                    help="SPIKEKERN_CPU_ISA values to run ('' = the machine's own)")
    ap.add_argument("--malloc", nargs="+", choices=["default", "keep"], default=["default", "keep"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--neurons", nargs="+", choices=NEURONS, default=["lif", "cuba_lif"])
    ap.add_argument("--child", choices=["default", "keep"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.threads, args.rounds, args.neurons)
        return 0
    runs = []
    for isa in args.isa:
        for malloc in args.malloc:
            env = dict(os.environ)
            env.pop("SPIKEKERN_CPU_ISA", None)
            if isa:
                env["SPIKEKERN_CPU_ISA"] = isa
            print(f"--- fresh process: SPIKEKERN_CPU_ISA={isa or '(unset)'}, allocator {malloc}", flush=True)
            cmd = [sys.executable, __file__, "--out", args.out, "--child", malloc, "--threads", str(args.threads),
                   "--rounds", str(args.rounds), "--neurons", *args.neurons]
            result = fresh.run(cmd, f"the run with SPIKEKERN_CPU_ISA={isa!r}, allocator {malloc}", env=env, echo=True)
            runs.append(dict(result, isa_requested=isa or None, malloc=malloc))
    lines = summarize(runs)
    print("\n".join(["", "summary (time of each peer / time of cpp, same process):"] + lines))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(command=" ".join(["python", "benchmarks/cpu_out_of_box.py", *sys.argv[1:]]),
                                   runs=runs, summary=lines), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
