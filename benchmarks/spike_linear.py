"""spike_linear against torch.nn.functional.linear on spike input, in one run.

For each shape (rows = T*B, in -> out) and density of ones, times (median of `--repeat`
rounds, each a batch of calls) three things for both: the forward alone; the forward and the
weight (and bias) gradient, what a layer whose input needs no gradient costs (the encoder's
spikes into the first hidden layer); and the forward with every gradient (the hidden and
output layers, whose input gradient the surrogate needs). Prints the ratio F.linear /
spike_linear measured in the same run. Shapes: the ILC-SAN actor on Pendulum (T*B = 500 rows,
30 -> 256, 256 -> 256, 256 -> 60) and HalfCheetah (170 -> 256, 256 -> 256, 256 -> 60), and the
MinAtar PL-SDQN hidden layer (128 rows, 1024 -> 128).

    python benchmarks/spike_linear.py --out benchmarks/results/cpu/spike_linear/avx512.json
    SPIKEKERN_CPU_ISA=avx2 python benchmarks/spike_linear.py --out .../avx2.json
    SPIKEKERN_SPIKE_DENSE=1 python benchmarks/spike_linear.py ...   # the sparse kernels at every density
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

SHAPES = [("pendulum in", 500, 30, 256), ("hidden", 500, 256, 256), ("pendulum out", 500, 256, 60),
          ("halfcheetah in", 500, 170, 256), ("halfcheetah out", 500, 256, 60), ("minatar hidden", 128, 1024, 128)]
DENSITIES = (0.01, 0.05, 0.10, 0.20, 0.50)


def timed(fn, repeat: int, inner: int) -> float:
    """Median seconds per call over `repeat` rounds of `inner` calls."""
    fn()
    rounds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        rounds.append((time.perf_counter() - t0) / inner)
    return statistics.median(rounds)


def case(rows, n_in, n_out, density, repeat, inner) -> dict:
    from spikekern.ops import spike_linear

    g = torch.Generator().manual_seed(0)
    s = (torch.rand(rows, n_in, generator=g) < density).float()
    w = torch.randn(n_out, n_in, generator=g) * 0.1
    b = torch.randn(n_out, generator=g) * 0.1
    gy = torch.randn(rows, n_out, generator=g)
    out = {}
    for name, fn in (("linear", F.linear), ("spike_linear", lambda *a: spike_linear(*a, backend="cpp"))):
        def forward():
            with torch.no_grad():
                fn(s, w, b)

        wl, bl = w.clone().requires_grad_(), b.clone().requires_grad_()
        sl = s.clone().requires_grad_()

        def weight_grad():
            wl.grad = bl.grad = None
            fn(s, wl, bl).backward(gy)

        def all_grads():
            wl.grad = bl.grad = sl.grad = None
            fn(sl, wl, bl).backward(gy)

        out[name] = {k: timed(f, repeat, inner) for k, f in
                     (("forward", forward), ("forward_weight_grad", weight_grad), ("forward_all_grads", all_grads))}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--inner", type=int, default=20)
    p.add_argument("--densities", type=float, nargs="+", default=DENSITIES, help=f"default: {DENSITIES}")
    p.add_argument("--out", help="write the results as JSON here")
    args = p.parse_args(argv)
    if not all(0.0 <= d <= 1.0 for d in args.densities):
        p.error("--densities: fractions between 0 and 1")
    torch.set_num_threads(args.threads)
    import spikekern
    import spikekern.cpu
    from spikekern.bench.report import cpu_model

    results = []
    print(f"spike_linear vs F.linear, {args.threads} thread(s), CPU kernels: {spikekern.cpu.isa()}, "
          f"dense from density {spikekern.ops.spike_linear_module.dense_from(256):.2f} (outputs >= 128), "
          f"{spikekern.ops.spike_linear_module.dense_from(60):.2f} (fewer)")
    print(f"{'shape':>16} {'rows':>5} {'in':>5} {'out':>4} {'density':>8} | F.linear / spike_linear: "
          f"{'fwd':>6} {'fwd+dW':>7} {'fwd+all':>8}")
    for label, rows, n_in, n_out in SHAPES:
        for d in args.densities:
            r = case(rows, n_in, n_out, d, args.repeat, args.inner)
            ratio = {k: r["linear"][k] / r["spike_linear"][k] for k in r["linear"]}
            results.append(dict(shape=label, rows=rows, n_in=n_in, n_out=n_out, density=d, seconds=r, ratio=ratio))
            print(f"{label:>16} {rows:5d} {n_in:5d} {n_out:4d} {d:8.2f} | {'':24}{ratio['forward']:6.2f}x "
                  f"{ratio['forward_weight_grad']:6.2f}x {ratio['forward_all_grads']:7.2f}x", flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        meta = dict(command="python benchmarks/spike_linear.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                    isa=spikekern.cpu.isa(), threads=args.threads, cpu=cpu_model(),
                    torch=torch.__version__,
                    dense_from={n: spikekern.ops.spike_linear_module.dense_from(n) for n in (60, 128, 256)},
                    env={k: v for k, v in os.environ.items() if k.startswith("SPIKEKERN_")})
        Path(args.out).write_text(json.dumps(dict(meta=meta, results=results), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
