"""A uniformly random policy's mean return on each env a spikekern sweep reports on: the
lower anchor of random-to-ANN normalised scores (CMC-DSQN's normalisation: (score - random) /
(ANN - random)). Updates the given envs' entries of spikekern/sweep/random_scores.json, which
`spikekern report` reads.

    python benchmarks/random_scores.py [--episodes 100] [--env ENV ...]

Episode i starts from reset(seed=i); the actions come from a generator seeded with 0. Atari
games are played as `spikekern train dqn` evaluates them (DQNTrainer's test envs: whole
games, no episodic life, noop starts, at most max_test_steps agent steps), with every action
random (test epsilon 1).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import torch

from spikekern.rl import dqn
from spikekern.rl.envs import make_env, run_episodes
from spikekern.sweep import statistics

ENVS = ["MinAtar/Asterix-v1", "MinAtar/Breakout-v1", "MinAtar/Freeway-v1", "MinAtar/Seaquest-v1",
        "MinAtar/SpaceInvaders-v1", "Pendulum-v1", "CartPole-v1",
        # the seven Atari games of CMC-DSQN's Atari table (spikekern/sweep/published.json)
        *(f"ALE/{g}-v5" for g in ("BeamRider", "Breakout", "Enduro", "Pong", "Qbert", "Seaquest", "SpaceInvaders"))]


def random_return(env_id: str, episodes: int) -> tuple[float, float]:
    if dqn.is_atari(env_id):
        cfg = dqn.DQNConfig(env=env_id, test_eps=1.0)
        probe = dqn.VecEnv(env_id, 1, train=False)
        n_actions = probe.n_actions
        probe.close()
        # test epsilon 1: every action is drawn at random, the network's output is never used
        returns = dqn.evaluate(lambda obs: torch.zeros(len(obs), n_actions), cfg, episodes, seed=0, device="cpu")
        return float(np.mean(returns)), float(np.std(returns))
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
    out = Path(statistics.RANDOM_SCORES)
    table = json.loads(out.read_text())["scores"] if out.exists() else {}
    for env_id in args.env:
        mean, std = random_return(env_id, args.episodes)
        table[env_id] = dict(mean=mean, std=std, episodes=args.episodes)
        print(f"{env_id}: {mean:.2f} +- {std:.2f} over {args.episodes} episodes", flush=True)
        # written after each env, so an interrupted run keeps what it measured
        out.write_text(json.dumps(dict(how="python benchmarks/random_scores.py --episodes N [--env ENV ...]",
                                       scores=dict(sorted(table.items()))), indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
