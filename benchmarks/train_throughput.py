"""Training throughput per neuron backend, same config and seed: TD3 env steps/s (ILC-SAN by
default, or the --td3-agents given, e.g. popsan-lif popsan-clif; updates included), DQN frames/s (PL-SDQN on Atari at the default settings, gradient steps
included) and MinAtar env steps/s (PL-SDQN on each CPU backend and the ANN DQN, the MinAtar
preset: a gradient step per env step). Writes JSON.

    python benchmarks/train_throughput.py --out benchmarks/results/cpu/train_throughput.json
    python benchmarks/train_throughput.py --only td3 --td3-agents popsan-lif popsan-plif popsan-clif popsan --threads 1 --out ...
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from spikekern import _malloc, available_backends
from spikekern.rl import dqn, td3


def td3_steps_per_s(backend: str, env: str, steps: int, agent: str = "ilc-san") -> float:
    """Env steps/s with one update per env step, after the first update."""
    cfg = td3.TD3Config(env=env, backend=backend, steps=steps, start_steps=500, update_after=500,
                        epoch_steps=10 ** 9, test_episodes=1, **td3._agent_options(agent))
    with tempfile.TemporaryDirectory() as d:
        trainer = td3.TD3Trainer(dataclasses.replace(cfg, steps=500), Path(d))
        trainer.train(progress=False)                 # to the first update
        trainer.cfg = cfg
        t0 = time.perf_counter()
        while trainer.step < steps:                   # the timed part: act, step, store, update
            trainer.step_once()
        return (steps - 500) / (time.perf_counter() - t0)


def dqn_frames_per_s(backend: str, env: str, vector_steps: int, model: str = "pl-sdqn") -> float:
    """Frames/s at the env's preset settings (Atari: 10 envs, a gradient step per 10 env
    steps; MinAtar: one env, a gradient step per env step), timed after learning has started."""
    cfg = dataclasses.replace(dqn.DQNConfig.preset(env), backend=backend, model=model, learning_starts=1000,
                              buffer_size=20_000)
    with tempfile.TemporaryDirectory() as d:
        trainer = dqn.DQNTrainer(cfg, Path(d))
        while trainer.env_steps < cfg.learning_starts:
            trainer.step_once()
        t0, frames0 = time.perf_counter(), trainer.frames
        for _ in range(vector_steps):                 # the timed part: a vector step and its gradient steps
            trainer.step_once()
        return (trainer.frames - frames0) / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--td3-env", default="Pendulum-v1")
    ap.add_argument("--td3-steps", type=int, default=3000)
    ap.add_argument("--td3-agents", nargs="+", default=["ilc-san"],
                    help="TD3 agents as sweeps name them: actor[-neuron], e.g. popsan-clif")
    ap.add_argument("--dqn-env", default="ALE/Pong-v5")
    ap.add_argument("--dqn-vector-steps", type=int, default=100)
    ap.add_argument("--minatar-env", default="MinAtar/Breakout-v1")
    ap.add_argument("--minatar-steps", type=int, default=2000)
    ap.add_argument("--only", choices=["td3", "dqn", "minatar"], nargs="+", default=["td3", "dqn", "minatar"])
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--keep-freed-memory", action="store_true",
                    help="call spikekern._malloc.keep_freed_memory() first (default: the process allocator as is)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.keep_freed_memory:
        _malloc.keep_freed_memory()
    backends = [b for b in ("cpp", "reference") if b in available_backends("cpu")]
    rows = []
    for agent in args.td3_agents if "td3" in args.only else []:
        for b in backends:
            v = td3_steps_per_s(b, args.td3_env, args.td3_steps, agent)
            rows.append(dict(trainer=f"td3 {agent}", env=args.td3_env, backend=b, env_steps_per_s=v))
            print(f"TD3 {agent} {args.td3_env} {b}: {v:.1f} env steps/s (updates included)", flush=True)
    for b in backends if "dqn" in args.only else []:
        v = dqn_frames_per_s(b, args.dqn_env, args.dqn_vector_steps)
        rows.append(dict(trainer="dqn pl-sdqn", env=args.dqn_env, backend=b, frames_per_s=v))
        print(f"DQN PL-SDQN {args.dqn_env} {b}: {v:.1f} frames/s (gradient steps included)", flush=True)
    minatar = [("pl-sdqn", b) for b in backends] + [("dqn", "cpp")]
    for model, b in minatar if "minatar" in args.only else []:
        v = dqn_frames_per_s(b, args.minatar_env, args.minatar_steps, model=model)
        backend = b if model != "dqn" else "-"  # the ANN has no neurons
        rows.append(dict(trainer=f"dqn {model}", env=args.minatar_env, backend=backend, env_steps_per_s=v))
        print(f"DQN {model} {args.minatar_env} {backend}: {v:.1f} env steps/s (gradient steps included)", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(machine=dict(cpu=platform.processor() or platform.machine(),
                                                threads=torch.get_num_threads(), torch=torch.__version__,
                                                malloc_tuned=_malloc.is_tuned()),
                                   results=rows), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
