"""Streaming stores on CPU: the cpp LIF and CUBA-LIF ops with every output streamed against
none streamed (spikekern.cpu.set_stream_min_bytes(0) vs a threshold no output reaches),
timed interleaved in one process with a plain tensor copy for the bandwidth floor, at
T=16 and several widths around the last-level cache. The default threshold (half the
last-level cache) is chosen from what this shows. float32, 2 threads by default; the
instruction-set build is the machine's own unless SPIKEKERN_CPU_ISA forces one.

    python benchmarks/cpu_streaming.py --out benchmarks/results/cpu/streaming/avx512.json
    SPIKEKERN_CPU_ISA=avx2 python benchmarks/cpu_streaming.py --out .../avx2.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import spikekern.cpu
from spikekern.bench import report
from spikekern.bench.cases import MODES, Case, copy_runner, make_inputs, runner
from spikekern.bench.timing import interleaved

NEVER = 2 ** 62  # a threshold no output reaches


def with_threshold(fn, min_bytes):
    def run():
        spikekern.cpu.set_stream_min_bytes(min_bytes)
        fn()
    return run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--log2-widths", type=int, nargs="+", default=[16, 18, 20])
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    default = spikekern.cpu.stream_min_bytes()
    print(f"isa {spikekern.cpu.isa()}, default threshold {default / 2**20:.0f} MiB, {args.threads} threads")
    rows = []
    try:
        for neuron in ("lif", "cuba_lif"):
            for w in args.log2_widths:
                case = Case(neuron, 16, 1 << w)
                inputs = make_inputs(case)
                copy_fn, copy_bytes = copy_runner(case)
                for mode in MODES:
                    fn = runner(case, mode, inputs, "cpp")
                    times = interleaved({"streamed": with_threshold(fn, 0), "plain": with_threshold(fn, NEVER),
                                         "copy": copy_fn}, args.rounds, min_seconds=0.25)
                    copy_gbs = copy_bytes / times["copy"] / 1e9
                    gbs = {k: case.min_bytes(mode, torch.float32) / times[k] / 1e9 for k in ("streamed", "plain")}
                    row = dict(neuron=neuron, T=16, N=1 << w, mode=mode, output_mib=16 * (1 << w) * 4 / 2**20,
                               streamed_ms=times["streamed"] * 1e3, plain_ms=times["plain"] * 1e3,
                               plain_over_streamed=times["plain"] / times["streamed"],
                               streamed_pct_copy=100 * gbs["streamed"] / copy_gbs,
                               plain_pct_copy=100 * gbs["plain"] / copy_gbs)
                    rows.append(row)
                    print(f"{neuron:<9} N=2^{w:<3} ({row['output_mib']:>4.0f} MiB per output) {mode:<8} "
                          f"streamed {row['streamed_ms']:7.2f} ms ({row['streamed_pct_copy']:3.0f}% copy)  "
                          f"plain {row['plain_ms']:7.2f} ms ({row['plain_pct_copy']:3.0f}% copy)  "
                          f"plain/streamed {row['plain_over_streamed']:.2f}x", flush=True)
    finally:
        spikekern.cpu.set_stream_min_bytes(default)
    out = dict(machine=report.machine_info("cpu"), threads=args.threads, default_threshold_bytes=default,
               rounds=args.rounds, rows=rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
