"""How the final agents of a TD3 sweep move: for every run folder under DIR that holds a
model.pt, deterministic test episodes as the trainer runs them (the run's env and episode
limit, episode i from reset(seed=SEED + i)), and per run the mean episode length and return
and, where the env reports them in each step's info (gymnasium's MuJoCo v5 locomotion tasks:
`reward_forward`, `x_position`), the summed forward reward and how far the body moved along x.

A return earned by surviving alone shows here and not in the return: Hopper-v5 pays 1 per
step alive, so an actor that stands still for the 1000 steps scores about 1000, as much as
one that hops a few metres and falls, with a forward reward near 0. One row per run, as a
markdown table, and JSON with --json; 1 thread:

    python benchmarks/grid_gait.py DIR --episodes 10 --out DIR/gait.md
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from grid_activity import markdown, tabulate  # noqa: E402  (the same run folders, in the same order)


def episode(env, act, seed: int) -> dict:
    """One episode under act(obs) -> action: its length, return, and (None where the env's
    info lacks them) summed forward reward and x displacement."""
    obs, info = env.reset(seed=seed)
    x0 = info.get("x_position")
    length, total, forward, x = 0, 0.0, 0.0, x0
    done = False
    while not done:
        obs, r, term, trunc, info = env.step(act(obs))
        length, total = length + 1, total + float(r)
        forward = forward + float(info["reward_forward"]) if "reward_forward" in info else None
        x = info.get("x_position")
        done = term or trunc
    return dict(length=length, test_return=total, forward=forward,
                dx=None if x is None or x0 is None else float(x) - float(x0))


def measure(run_dir: Path, episodes: int, seed: int) -> dict:
    """Mean over `episodes` test episodes of the run's saved agent (None: not reported)."""
    from spikekern.rl import load_agent
    from spikekern.rl.envs import make_env

    policy = load_agent(run_dir)
    if policy.algo != "td3":
        raise SystemExit(f"{run_dir}: grid_gait is for TD3 runs, not {policy.algo}")
    cfg = policy.cfg
    env = make_env(cfg.env, continuous=True, max_episode_steps=cfg.max_ep_len)
    try:
        eps = [episode(env, lambda o: policy.act(o.astype(np.float32)), seed + i) for i in range(episodes)]
    finally:
        env.close()

    def mean(key):
        vals = [e[key] for e in eps]
        return None if any(v is None for v in vals) else float(np.mean(vals))

    return dict(env=cfg.env, agent=policy.spec.agent_of(dataclasses.asdict(cfg)), seed=cfg.seed, episodes=episodes,
                **{k: mean(k) for k in ("length", "test_return", "forward", "dx")})


def table(rows: list[dict]) -> str:
    head = ["env", "agent", "seed", "episode length", "test return", "forward reward", "x moved"]
    fmt = (lambda v, spec: "" if v is None else format(v, spec))
    return markdown(head, [[r["env"], r["agent"], str(r["seed"]), fmt(r["length"], ".0f"), fmt(r["test_return"], ".1f"),
                            fmt(r["forward"], ".1f"), fmt(r["dx"], ".2f")] for r in rows])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", help="a sweep's folder (any folder holding TD3 run folders with model.pt)")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=12345, help="seed of the first episode (as spikekern eval)")
    p.add_argument("--out", help="write the markdown table here")
    p.add_argument("--json", help="write the rows as JSON here")
    args = p.parse_args(argv)
    if args.episodes < 1:
        p.error("--episodes must be at least 1")
    torch.set_num_threads(1)
    return tabulate(args.dir, lambda run_dir: [measure(run_dir, args.episodes, args.seed)], table, args.out,
                    args.json)


if __name__ == "__main__":
    sys.exit(main())
