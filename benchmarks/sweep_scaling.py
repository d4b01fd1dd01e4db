"""Does a sweep use the machine's cores? Aggregate env steps/s of N trials with 1 CPU each
(`spikekern sweep --cpus-per-trial 1`) against one trial alone with N threads
(`spikekern train --threads N`), same config. Also one trial alone with 1 thread: N times
its rate over the N-thread rate is the most the sweep could gain (the ceiling), were its
trials as fast side by side as alone. Writes JSON.

    python benchmarks/sweep_scaling.py --out benchmarks/results/sweep/scaling.json
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = ["--env", "Pendulum-v1", "--actor", "ilc-san", "--start-steps", "1000", "--update-after", "1000",
          "--test-episodes", "1"]


def last_row(run_dir: Path) -> dict:
    with open(run_dir / "progress.csv", newline="") as f:
        return list(csv.DictReader(f))[-1]


def spikekern(*args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "spikekern.cli", *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--trials", type=int, default=os.cpu_count())
    args = ap.parse_args()
    n, steps = args.trials, str(args.steps)
    with tempfile.TemporaryDirectory() as d:
        alone = Path(d) / "alone"
        spikekern("train", "td3", *CONFIG, "--steps", steps, "--epoch-steps", steps, "--threads", str(n),
                  "--out", str(alone), "--no-progress")
        row = last_row(alone)
        alone_rate = float(row["step"]) / float(row["time_s"])
        one = Path(d) / "one-thread"
        spikekern("train", "td3", *CONFIG, "--steps", steps, "--epoch-steps", steps, "--threads", "1",
                  "--out", str(one), "--no-progress")
        row = last_row(one)
        one_thread_rate = float(row["step"]) / float(row["time_s"])
        sweep_dir = Path(d) / "sweep"
        seeds = [str(s) for s in range(n)]
        wall = spikekern("sweep", "td3", *CONFIG, "--steps", steps, "--epoch-steps", steps, "--seeds", *seeds,
                         "--cpus-per-trial", "1", "--out", str(sweep_dir))
        rows = [last_row(sweep_dir / "Pendulum-v1" / "ilc-san" / f"seed{s}") for s in seeds]
    trial_rates = [float(r["step"]) / float(r["time_s"]) for r in rows]
    result = dict(
        machine=dict(cpu=platform.processor() or platform.machine(), cpus=os.cpu_count()),
        config=" ".join(CONFIG + ["--steps", steps]),
        alone_threads=n, alone_env_steps_per_s=alone_rate, alone_1_thread_env_steps_per_s=one_thread_rate,
        ceiling=n * one_thread_rate / alone_rate,
        sweep_trials=n, sweep_trial_env_steps_per_s=trial_rates,
        sweep_aggregate_env_steps_per_s=sum(trial_rates),
        sweep_aggregate_incl_ray_start=n * args.steps / wall, sweep_wall_s=wall,
        speedup=sum(trial_rates) / alone_rate, speedup_incl_ray_start=n * args.steps / wall / alone_rate)
    print(json.dumps(result, indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
