"""Many seeds in one process: per-seed TD3 training speed at K = 1, 2, 4, 8, 16 seeds per
process against one single-seed run, and memory per seed.

Each case runs in a fresh process of its own with its thread count set (nothing else should
run meanwhile): a TD3Trainer with K seeds is built, stepped until its replay holds a batch and
one burst of updates has run (warm-up), then timed over `--steps` env steps of the learning
phase: each seed acts with its actor (one batched call for all seeds), steps its env, stores,
and every `update_every` steps runs that many batched updates, as in training. Evaluation and
checkpoints are left out (they scale with K alike). K = 1 is exactly the single-seed run (the
same code, bit for bit). Per-seed rate = K * steps / time; the ratio is against K = 1 measured
in the same run.

    python benchmarks/seeds.py --out benchmarks/results/seeds            # everything (about 25 min)
    python benchmarks/seeds.py --envs Pendulum-v1 --seeds 1 8 --threads 1 --out /tmp/seeds
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ACTORS = ("ilc-san", "popsan", "ann")


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def one(case: dict) -> dict:
    """Time one case in this process (the parent starts a process per case)."""
    import torch

    torch.set_num_threads(case["threads"])
    from spikekern.rl import td3

    K = case["k"]
    cfg = td3.TD3Config(env=case["env"], actor=case["actor"], backend="auto", start_steps=0, update_after=100,
                        update_every=50, threads=case["threads"], steps=10**9)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = td3.TD3Trainer(cfg, Path(tmp) / "run", seeds=list(range(K)))
        while trainer.step < cfg.update_after + cfg.update_every:  # warm-up: fill a batch, one burst of updates
            trainer.step_once()
        t0 = time.perf_counter()
        for _ in range(case["steps"]):
            trainer.step_once()
        seconds = time.perf_counter() - t0
        trainer.close()
        for run in trainer.runs:
            run.logger.close()
    return dict(case, seconds=seconds, per_seed_steps_per_s=K * case["steps"] / seconds,
                group_steps_per_s=case["steps"] / seconds, peak_rss_mb=peak_rss_mb())


def run_case(case: dict) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(case["threads"]), MKL_NUM_THREADS=str(case["threads"]))
    proc = subprocess.run([sys.executable, __file__, "--one", json.dumps(case)], capture_output=True, text=True,
                          env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"case {case} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def table(results: list[dict]) -> str:
    base = {(r["env"], r["actor"], r["threads"]): r for r in results if r["k"] == 1}
    lines = ["| env | actor | threads | K | per-seed env steps/s | vs one single-seed run | peak RSS MB | "
             "MB per added seed |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        b = base.get((r["env"], r["actor"], r["threads"]))
        ratio = r["per_seed_steps_per_s"] / b["per_seed_steps_per_s"] if b else float("nan")
        added = (r["peak_rss_mb"] - b["peak_rss_mb"]) / (r["k"] - 1) if b and r["k"] > 1 else float("nan")
        lines.append(f"| {r['env']} | {r['actor']} | {r['threads']} | {r['k']} | {r['per_seed_steps_per_s']:.1f} | "
                     f"{ratio:.2f}x | {r['peak_rss_mb']:.0f} | {'' if r['k'] == 1 else f'{added:.1f}'} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", nargs="+", default=["Pendulum-v1", "HalfCheetah-v5"])
    p.add_argument("--actors", nargs="+", default=list(ACTORS), choices=ACTORS)
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 4, 8, 16], help="values of K")
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--steps", type=int, default=100, help="timed env steps per case (default: 100 = 2 bursts)")
    p.add_argument("--out", help="write results.json and report.md here")
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(one(json.loads(args.one))))
        return 0
    if 1 not in args.seeds:
        p.error("--seeds must include 1: every ratio is against the single-seed run")
    results = []
    for env in args.envs:
        for actor in args.actors:
            for threads in args.threads:
                for k in sorted(args.seeds):
                    r = run_case(dict(env=env, actor=actor, threads=threads, k=k, steps=args.steps))
                    results.append(r)
                    print(f"{env} {actor} threads={threads} K={k}: {r['per_seed_steps_per_s']:.1f} env steps/s per "
                          f"seed, peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
    report = table(results)
    print(report)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        import torch

        meta = dict(command="python benchmarks/seeds.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                    machine=platform.processor() or platform.machine(), cpus=os.cpu_count(), torch=torch.__version__,
                    isa=os.environ.get("SPIKEKERN_CPU_ISA", "default build"))
        (out / "results.json").write_text(json.dumps(dict(meta=meta, results=results), indent=1))
        (out / "report.md").write_text(f"# Many seeds in one process\n\n`{meta['command']}`\n\n{report}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
