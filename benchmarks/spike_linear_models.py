"""spike_linear in the models, end to end: one TD3 update of the ILC-SAN agent (Pendulum-v1,
HalfCheetah-v5) and one DQN gradient step of PL-SDQN (MinAtar Breakout), the env steps/s of
their training loops, and what one ILC-SAN actor update keeps for its backward.

Run it once with spike_linear in the models (this version) and once with every layer a
plain product (SPIKEKERN_SPIKE_DENSE=0 sends spike_linear down its dense path; for the code
before spike_linear existed, run this script from that checkout), each in a quiet machine,
1 thread:

    python benchmarks/spike_linear_models.py --out benchmarks/results/cpu/spike_linear/models.json
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from spikekern.bench.updates import time_updates, warmed


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


def measure(kind: str, updates: int, steps: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp, warmed(trainer(kind, Path(tmp) / "run")) as tr:
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
    p.add_argument("--out")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    results = {}
    for kind in ("td3:Pendulum-v1", "td3:HalfCheetah-v5", "dqn:MinAtar/Breakout-v1"):
        results[kind] = measure(kind, args.updates, args.steps)
        print(kind, json.dumps(results[kind]), flush=True)
    if args.out:
        import os

        meta = dict(command="python benchmarks/spike_linear_models.py " + " ".join(argv or sys.argv[1:]),
                    env={k: v for k, v in os.environ.items() if k.startswith("SPIKEKERN_")})
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(dict(meta=meta, results=results), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
