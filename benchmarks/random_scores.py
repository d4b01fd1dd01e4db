"""A uniformly random policy's mean return on each env a spikekern sweep reports on: the
lower anchor of random-to-ANN normalised scores (CMC-DSQN's normalisation: (score - random) /
(ANN - random)). Writes spikekern/sweep/random_scores.json, which `spikekern report` reads.

    python benchmarks/random_scores.py [--episodes 100] [--env ENV ...]

Episode i starts from reset(seed=i); the actions come from a generator seeded with 0.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from spikekern.rl.envs import make_env, run_episodes
from spikekern.sweep import statistics

ENVS = ["MinAtar/Asterix-v1", "MinAtar/Breakout-v1", "MinAtar/Freeway-v1", "MinAtar/Seaquest-v1",
        "MinAtar/SpaceInvaders-v1", "Pendulum-v1", "CartPole-v1"]


def random_return(env_id: str, episodes: int) -> tuple[float, float]:
    continuous = env_id == "Pendulum-v1"
    env = make_env(env_id, continuous=continuous)
    env.action_space.seed(0)
    returns = run_episodes(env, lambda obs: env.action_space.sample(), episodes, seed=0)
    return float(np.mean(returns)), float(np.std(returns))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--env", nargs="+", default=ENVS)
    args = ap.parse_args()
    table = {}
    for env_id in args.env:
        mean, std = random_return(env_id, args.episodes)
        table[env_id] = dict(mean=mean, std=std, episodes=args.episodes)
        print(f"{env_id}: {mean:.2f} +- {std:.2f} over {args.episodes} episodes", flush=True)
    out = Path(statistics.RANDOM_SCORES)
    out.write_text(json.dumps(dict(how="python benchmarks/random_scores.py --episodes %d" % args.episodes,
                                   scores=table), indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
