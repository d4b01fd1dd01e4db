"""Same-machine A/B of the CPU neuron kernels of two source trees (each built in place with
`python setup.py build_ext --inplace`), e.g. before and after a change to the shared time
loops: LIF, CUBA-LIF, PLIF and CLIF (`--neurons`, those both trees have) at T=16, N=2^20,
float32, 1 thread, forward (no grad) and forward+backward.

Each (tree, instruction set) runs in a fresh process, the trees alternating, `--repeats`
times; a process times its ops round-robin (spikekern.bench.timing.interleaved) and the
parent takes each op's median over the processes. Ratios are B's time over A's (below 1:
B faster).

    python benchmarks/neuron_ab.py --a /path/to/before --b . --out benchmarks/results/cpu/neuron-ab.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

from spikekern.bench import fresh

NEURONS = ("lif", "cuba_lif", "plif", "clif")
T, N = 16, 1 << 20


def child(rounds: int, neurons: list[str]) -> None:
    import torch

    import spikekern
    import spikekern.cpu  # not imported by spikekern itself in every tree
    from spikekern.bench.cases import Case, make_inputs, runner
    from spikekern.bench.timing import interleaved

    torch.set_num_threads(1)
    fns = {}
    for neuron in neurons:
        case = Case(neuron, T, N)
        inputs = make_inputs(case)
        for mode in ("fwd", "fwd+bwd"):
            fns[f"{neuron} {mode}"] = runner(case, mode, inputs, "cpp")
    times = interleaved(fns, rounds=rounds, warmup=3)
    fresh.emit(dict(isa=spikekern.cpu.isa(), source=str(Path(spikekern.__file__).parent.parent), ms={
        k: 1e3 * v for k, v in times.items()}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", required=True, help="source tree A (the baseline), built in place")
    ap.add_argument("--b", required=True, help="source tree B, built in place")
    ap.add_argument("--isa", nargs="+", default=["avx512", "avx2"], help="SPIKEKERN_CPU_ISA values to run")
    ap.add_argument("--repeats", type=int, default=3, help="fresh processes per tree and ISA")
    ap.add_argument("--rounds", type=int, default=15, help="timing rounds inside each process")
    ap.add_argument("--neurons", nargs="+", default=list(NEURONS), choices=NEURONS, help="the neurons to time")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args()
    trees = {"A": str(Path(args.a).resolve()), "B": str(Path(args.b).resolve())}
    samples = {(isa, t): [] for isa in args.isa for t in trees}
    for r in range(args.repeats):
        for isa in args.isa:
            for name, tree in trees.items():
                env = dict(os.environ, PYTHONPATH=tree, SPIKEKERN_CPU_ISA=isa, OMP_NUM_THREADS="1")
                res = fresh.run([sys.executable, __file__, "--child", str(args.rounds), *args.neurons], f"{name} {isa}",
                                env=env)
                if res["source"] != tree:
                    raise SystemExit(f"tree {name} imported spikekern from {res['source']}, not {tree}")
                samples[(isa, name)].append(res["ms"])
                print(f"repeat {r + 1}/{args.repeats} {isa} {name}: " +
                      ", ".join(f"{k} {v:.2f} ms" for k, v in res["ms"].items()), flush=True)
    rows = []
    for isa in args.isa:
        for op in samples[(isa, "A")][0]:
            a = statistics.median(s[op] for s in samples[(isa, "A")])
            b = statistics.median(s[op] for s in samples[(isa, "B")])
            rows.append(dict(isa=isa, op=op, a_ms=a, b_ms=b, b_over_a=b / a))
            print(f"{isa:<7} {op:<17} A {a:8.2f} ms   B {b:8.2f} ms   B/A {b / a:.3f}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(dict(trees=trees, repeats=args.repeats, rounds=args.rounds,
                                                  cases=[[n, T, N] for n in args.neurons], threads=1, rows=rows),
                                             indent=1) + "\n")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), sys.argv[3:])
    else:
        main()
