"""The `spikekern` command line."""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spikekern", description="Fused spiking neurons for PyTorch")
    sub = parser.add_subparsers(dest="command", required=True)

    bench = sub.add_parser("bench", help="time every neuron x backend x size against the reference loop")
    bench.add_argument("--quick", action="store_true", help="the headline sizes only, fewer rounds")
    bench.add_argument("--report", metavar="DIR", help="also write results.json and report.md to DIR")
    bench.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    bench.add_argument("--backends", nargs="+", help="default: every backend available on the device")
    bench.add_argument("--threads", type=int, help="torch.set_num_threads before timing")
    bench.add_argument("--no-malloc-tuning", action="store_true",
                       help="leave glibc's allocator as it is (see spikekern/_malloc.py)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "bench":
        import torch

        from .bench import report

        if args.device == "cuda" and not torch.cuda.is_available():
            print("spikekern bench: --device cuda but no CUDA device is available", file=sys.stderr)
            return 2
        if args.threads:
            torch.set_num_threads(args.threads)
        try:
            report.main(quick=args.quick, report=args.report, device=args.device,
                        backends=args.backends, malloc_tuning=not args.no_malloc_tuning)
        except (RuntimeError, ValueError) as exc:
            print(f"spikekern bench: {exc}", file=sys.stderr)
            return 2
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
