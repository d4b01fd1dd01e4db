"""Many seeds in one process: per-seed training speed at K = 1, 2, 4, 8, 16 seeds per process
against one single-seed run, and memory per seed, for TD3 (ILC-SAN, PopSAN, ANN actors) and
DQN (PL-SDQN and the ANN on MinAtar).

Each case runs in a fresh process of its own with its thread count set (nothing else should
run meanwhile): a trainer with K seeds is built, stepped through its warm-up (until it
learns, and some learning), then timed over `--steps` env steps of the learning phase: each
seed acts (one batched forward for all seeds), steps its env, stores, and the batched
updates that are due run (TD3: every 50 steps 50 updates; MinAtar DQN: one gradient step per
step), as in training. Evaluation and checkpoints are left out (they scale with K alike).
K = 1 is exactly the single-seed run (the same code, bit for bit). Per-seed rate =
K * steps / time; the ratio is against K = 1 measured in the same run.

    python benchmarks/seeds.py --out benchmarks/results/seeds             # everything
    python benchmarks/seeds.py --cases td3:Pendulum-v1:ilc-san --seeds 1 8 --threads 1
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

CASES = [f"td3:{env}:{actor}" for env in ("Pendulum-v1", "HalfCheetah-v5") for actor in ("ilc-san", "popsan", "ann")] \
    + [f"dqn:MinAtar/Breakout-v1:{model}" for model in ("pl-sdqn", "dqn")]


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def trainer_for(case: dict, out: Path):
    """The trainer of a case, with its warm-up length (env steps before timing)."""
    algo, env, agent = case["case"].split(":")
    seeds = list(range(case["k"]))
    if algo == "td3":
        from spikekern.rl import td3

        cfg = td3.TD3Config(env=env, actor=agent, start_steps=0, update_after=100, update_every=50,
                            threads=case["threads"], steps=10**9)
        return td3.TD3Trainer(cfg, out, seeds=seeds), cfg.update_after + cfg.update_every
    from dataclasses import replace

    from spikekern.rl import dqn

    cfg = replace(dqn.DQNConfig.preset(env), model=agent, learning_starts=100, threads=case["threads"], frames=10**9)
    return dqn.DQNTrainer(cfg, out, seeds=seeds), cfg.learning_starts + 50


def one(case: dict) -> dict:
    """Time one case in this process (the parent starts a process per case)."""
    import torch

    torch.set_num_threads(case["threads"])
    K = case["k"]
    with tempfile.TemporaryDirectory() as tmp:
        trainer, warm_up = trainer_for(case, Path(tmp) / "run")
        while trainer.agent_step() < warm_up:
            trainer.step_once()
        start = trainer.agent_step()
        t0 = time.perf_counter()
        while trainer.agent_step() < start + case["steps"]:
            trainer.step_once()
        seconds = time.perf_counter() - t0
        trainer.close()
        for run in trainer.runs:
            run.logger.close()
    return dict(case, seconds=seconds, seed_steps_per_s=K * case["steps"] / seconds,
                group_steps_per_s=case["steps"] / seconds, peak_rss_mb=peak_rss_mb())


def run_case(case: dict) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(case["threads"]), MKL_NUM_THREADS=str(case["threads"]))
    proc = subprocess.run([sys.executable, __file__, "--one", json.dumps(case)], capture_output=True, text=True,
                          env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"case {case} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def table(results: list[dict]) -> str:
    base = {(r["case"], r["threads"]): r for r in results if r["k"] == 1}
    lines = ["| algo | env | agent | threads | K | seed-steps/s (all K seeds) | vs one single-seed run | peak RSS MB | "
             "MB per added seed |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        b = base.get((r["case"], r["threads"]))
        ratio = r["seed_steps_per_s"] / b["seed_steps_per_s"] if b else float("nan")
        added = (r["peak_rss_mb"] - b["peak_rss_mb"]) / (r["k"] - 1) if b and r["k"] > 1 else float("nan")
        algo, env, agent = r["case"].split(":")
        lines.append(f"| {algo} | {env} | {agent} | {r['threads']} | {r['k']} | {r['seed_steps_per_s']:.1f} | "
                     f"{ratio:.2f}x | {r['peak_rss_mb']:.0f} | {'' if r['k'] == 1 else f'{added:.1f}'} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", nargs="+", default=CASES, metavar="ALGO:ENV:AGENT", help="default: every case above")
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 4, 8, 16], help="values of K")
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--steps", type=int, default=100, help="timed env steps per case (default: 100 = 2 bursts)")
    p.add_argument("--out", help="write results.json and report.md here")
    p.add_argument("--report", metavar="RESULTS_JSON", help="only rewrite the report of a results.json")
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(one(json.loads(args.one))))
        return 0
    if args.report:
        data = json.loads(Path(args.report).read_text())
        Path(args.report).with_name("report.md").write_text(
            f"# Many seeds in one process\n\n`{data['meta']['command']}`\n\n{table(data['results'])}\n")
        return 0
    if 1 not in args.seeds:
        p.error("--seeds must include 1: every ratio is against the single-seed run")
    results = []
    for name in args.cases:
        for threads in args.threads:
            for k in sorted(args.seeds):
                r = run_case(dict(case=name, threads=threads, k=k, steps=args.steps))
                results.append(r)
                print(f"{name} threads={threads} K={k}: {r['seed_steps_per_s']:.1f} seed-steps/s, "
                      f"peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
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
