"""Learning runs for the README and issue figures: several seeds of one trainer config,
run one after another; writes each run's directory, a summary JSON and one plot with every
seed's curve.

    python benchmarks/learning.py td3 --env Pendulum-v1 --seeds 0 1 2 --out DIR -- --steps 30000 --start-steps 2000
    python benchmarks/learning.py dqn --env CartPole-v1 --seeds 0 1 2 --out DIR -- --frames 100000
(options after "--" are the trainer's, as on `spikekern train`)
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

from spikekern.cli import _config, build_parser


def main() -> int:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser()
    ap.add_argument("algo", choices=["td3", "dqn"])
    ap.add_argument("--env", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    if args.algo == "td3":
        from spikekern.rl import td3 as algo
        cfg_cls = algo.TD3Config
    else:
        from spikekern.rl import dqn as algo
        cfg_cls = algo.DQNConfig
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = []
    for seed in args.seeds:
        targs = build_parser().parse_args(["train", args.algo, "--env", args.env, "--seed", str(seed), *extra])
        cfg = _config(targs, cfg_cls)
        run_dir = out / f"seed{seed}"
        t0 = time.time()
        result = algo.run(cfg, run_dir, progress=False)
        summary.append(dict(seed=seed, final_test_return=result["test_return"], final_test_return_std=result["test_return_std"],
                            wall_s=time.time() - t0, config=cfg.__dict__))
        print(f"seed {seed}: final test return {result['test_return']:.1f} +- {result['test_return_std']:.1f} "
              f"({time.time() - t0:.0f} s)", flush=True)
        (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    plot(out, args)
    return 0


def plot(out: Path, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for seed in args.seeds:
        with open(out / f"seed{seed}" / "progress.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        ax.plot([float(r["step"]) for r in rows], [float(r["test_return"]) for r in rows], marker="o", label=f"seed {seed}")
    ax.set_xlabel("env steps")
    ax.set_ylabel("mean test return")
    ax.set_title(f"{args.algo.upper()} on {args.env}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=100)


if __name__ == "__main__":
    sys.exit(main())
