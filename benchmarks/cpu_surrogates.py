"""What each surrogate costs on CPU: the cpp LIF forward+backward with every surrogate
(sigmoid is LIF's default, and the only one whose backward computes an exp), CUBA-LIF with
its default (rect), and a plain tensor copy for the bandwidth floor, timed interleaved in
one process. T=16, N=2^20, float32, 2 threads by default; the instruction-set build is the
machine's own unless SPIKEKERN_CPU_ISA forces one.

The other surrogates are a few multiplies per neuron-step, so their forward+backward is
bound by memory; "x LIF rect" is what the sigmoid's exp adds on top of that. The copy's
speed on a VM depends on where its buffers happen to land (on the development machine it
moves between about 2.8 and 4.1 ms from one process to the next, steady within a process),
so the measurement is repeated in several fresh processes and the medians are reported.

    python benchmarks/cpu_surrogates.py --out benchmarks/results/cpu/surrogates/avx512.json
    SPIKEKERN_CPU_ISA=avx2 python benchmarks/cpu_surrogates.py --out .../avx2.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from spikekern.bench import fresh

SURROGATES = ("sigmoid", "atan", "qgate", "rect")


def child(log2_n: int, rounds: int, threads: int) -> dict:
    import torch

    import spikekern.cpu
    from spikekern import ops
    from spikekern.bench import report
    from spikekern.bench.cases import Case, copy_runner, make_inputs
    from spikekern.bench.timing import interleaved

    torch.set_num_threads(threads)
    case = Case("lif", 16, 1 << log2_n)
    inputs = make_inputs(case)

    def fwd_bwd(fn, surrogate):
        x = inputs["x"].detach().requires_grad_(True)

        def run():
            fn(x, surrogate=surrogate, backend="cpp").backward(inputs["grad"])
            x.grad = None
        return run

    fns = {f"lif {s}": fwd_bwd(ops.lif, s) for s in SURROGATES}
    fns["cuba_lif rect"] = fwd_bwd(ops.cuba_lif, "rect")
    fns["copy"], copy_bytes = copy_runner(case)
    times = interleaved(fns, rounds, min_seconds=0.5)
    copy_gbs = copy_bytes / times["copy"] / 1e9
    min_bytes = case.min_bytes("fwd+bwd", torch.float32)
    rows = {name: dict(ms=t * 1e3, pct_copy=100 * (min_bytes / t / 1e9) / copy_gbs,
                       x_lif_rect=t / times["lif rect"])
            for name, t in times.items() if name != "copy"}
    return dict(machine=report.machine_info("cpu"), isa=spikekern.cpu.isa(), copy_ms=times["copy"] * 1e3, rows=rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--log2-n", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--processes", type=int, default=5, help="fresh processes to measure in")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        fresh.emit(child(args.log2_n, args.rounds, args.threads))
        return 0
    runs = []
    for i in range(args.processes):
        cmd = [sys.executable, __file__, "--out", args.out, "--child", "--log2-n", str(args.log2_n),
               "--rounds", str(args.rounds), "--threads", str(args.threads)]
        run = fresh.run(cmd, f"process {i + 1}")
        runs.append(run)
        print(f"process {i + 1}/{args.processes} ({run['isa']}): copy {run['copy_ms']:.2f} ms, "
              + ", ".join(f"{k} {v['ms']:.2f} ms ({v['pct_copy']:.0f}%)" for k, v in run["rows"].items()),
              flush=True)
    summary = {}
    print(f"\nmedians over {len(runs)} processes, T=16 N=2^{args.log2_n} float32 fwd+bwd, "
          f"{args.threads} threads, isa {runs[0]['isa']}:")
    for name in runs[0]["rows"]:
        col = {k: [r["rows"][name][k] for r in runs] for k in ("ms", "pct_copy", "x_lif_rect")}
        summary[name] = {k: statistics.median(v) for k, v in col.items()}
        summary[name].update(pct_copy_min=min(col["pct_copy"]), pct_copy_max=max(col["pct_copy"]))
        s = summary[name]
        print(f"  {name:<14} {s['ms']:7.2f} ms  {s['pct_copy']:3.0f}% of copy "
              f"({s['pct_copy_min']:.0f}-{s['pct_copy_max']:.0f}%)  {s['x_lif_rect']:.2f}x LIF rect")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(command=" ".join(["python", "benchmarks/cpu_surrogates.py", *sys.argv[1:]]),
                                   T=16, N=1 << args.log2_n, threads=args.threads, runs=runs, summary=summary),
                              indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
