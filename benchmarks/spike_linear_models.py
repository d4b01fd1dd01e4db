"""spike_linear in the models, end to end: one TD3 update of the ILC-SAN agent (Pendulum-v1,
HalfCheetah-v5) and one DQN gradient step of PL-SDQN (MinAtar Breakout), the env steps/s of
their training loops, and what one ILC-SAN actor update keeps for its backward.

With --compare-dense, each round measures every model twice, with spike_linear in its
layers and with every layer a plain product (spikekern.bench.updates.dense_layers, the
models as they were before spike_linear), alternating, and prints the median of the rounds'
own ratios. Without it, one measurement per model (for an A/B of two checkouts, run it from
each). A quiet machine, 1 thread:

    python benchmarks/spike_linear_models.py --compare-dense --rounds 5 --out benchmarks/results/cpu/spike_linear/models.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from spikekern.bench.updates import dense_layers, time_updates, warmed


def trainer(kind: str, out: Path):
    from spikekern.rl import dqn, td3

    if kind.startswith("td3"):
        env = kind.split(":")[1]
        cfg = td3.TD3Config(env=env, actor="ilc-san", start_steps=0, update_after=200, update_every=50, threads=1,
                            steps=10**9)
        return td3.TD3Trainer(cfg, out)
    cfg = replace(dqn.DQNConfig.preset("MinAtar/Breakout-v1"), model="pl-sdqn", learning_starts=200, threads=1,
                  frames=10**9)
    return dqn.DQNTrainer(cfg, out)


def measure(kind: str, updates: int, steps: int, dense: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        with dense_layers(dense):
            tr = trainer(kind, Path(tmp) / "run")
        with warmed(tr):
            update_ms = time_updates(tr, updates)
            start, t0 = tr.agent_step(), time.perf_counter()
            while tr.agent_step() < start + steps:
                tr.step_once()
            rate = (tr.agent_step() - start) / (time.perf_counter() - t0)
            saved = saved_bytes(tr) if kind.startswith("td3") else None
    return dict(update_ms=update_ms, env_steps_per_s=rate, actor_update_saved_bytes=saved)


def saved_bytes(tr) -> int:
    """Bytes the autograd graph of one actor update keeps for its backward (each saved
    tensor's storage counted once)."""
    b = tr.buffer.sample(tr.cfg.batch_size, tr.rngs, tr.device)
    storages = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        o = tr.agent.norm(b["obs"])
        loss = -tr.agent.q1(o, tr.agent.actor(o)).mean()
    loss.backward()
    return sum(storages.values())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--updates", type=int, default=100)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--compare-dense", action="store_true",
                   help="also measure each model with every layer a plain product, in the same rounds")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--kinds", nargs="+", default=["td3:Pendulum-v1", "td3:HalfCheetah-v5", "dqn:MinAtar/Breakout-v1"])
    p.add_argument("--out")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    variants = (False, True) if args.compare_dense else (False,)
    results = {}
    for kind in args.kinds:
        rounds = {("dense" if d else "spike_linear"): [] for d in variants}
        for _ in range(args.rounds):
            for dense in variants:
                rounds["dense" if dense else "spike_linear"].append(measure(kind, args.updates, args.steps, dense))
        results[kind] = dict(rounds=rounds)
        print(kind, json.dumps({v: r[-1] for v, r in rounds.items()}), flush=True)
        if args.compare_dense:
            ratio = [d["update_ms"] / s["update_ms"] for d, s in zip(rounds["dense"], rounds["spike_linear"])]
            results[kind]["update_speedup"] = statistics.median(ratio)
            print(f"{kind}: update dense / spike_linear, median of {args.rounds} rounds: "
                  f"{statistics.median(ratio):.2f}x (rounds {min(ratio):.2f} to {max(ratio):.2f}); "
                  f"update {statistics.median(r['update_ms'] for r in rounds['dense']):.2f} -> "
                  f"{statistics.median(r['update_ms'] for r in rounds['spike_linear']):.2f} ms", flush=True)
    if args.out:
        import os

        from spikekern.bench.report import machine_info

        meta = dict(command="python benchmarks/spike_linear_models.py " + " ".join(argv or sys.argv[1:]),
                    env={k: v for k, v in os.environ.items() if k.startswith("SPIKEKERN_")},
                    machine=machine_info("cpu"))
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(dict(meta=meta, results=results), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
