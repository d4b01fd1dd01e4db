"""What a spiking TD3 actor does before its first update: each spiking layer's firing rate
(and share of pinned neurons) and how its actions vary, over observations of random-action
play, for each neuron of --neurons, as the trainer would build the actor under each seed.

An actor whose output population is silent (or pinned) as initialised answers every
observation with one action and passes back almost no surrogate gradient, and so depends on
its first updates to come out of it. Two encodings of the observations:

- scripts: the trainer's defaults (the ILC-SAN script's): observations normalised by their
  mean and std over the sample (what the running normaliser converges to) and clipped to +-3,
  receptive-field means over -3..3, std sqrt(0.15);
- authors: the Proxy Target implementation's (docs/proxy_target.md): tanh of the raw
  observation, means over -1..1, std sqrt(0.05).

One row per (env, neuron, encoding, seed), as a markdown table, and JSON with --json; 1 thread:

    python benchmarks/actor_init_activity.py --envs Hopper-v5 HalfCheetah-v5 \\
        --neurons lif clif cuba --out benchmarks/results/activity/actor-init/table.md
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from grid_activity import activity_cells, layer_names, markdown, write  # noqa: E402  (the same cells)

ENCODINGS = {"scripts": {}, "authors": dict(mean_range=(-1.0, 1.0), encoder_var=0.05)}


def observations(env_id: str, samples: int, seed: int) -> tuple[np.ndarray, int, float]:
    """samples observations of uniformly random actions (episodes restart as they end), the
    action dimension and bound."""
    from spikekern.rl.envs import make_env

    env = make_env(env_id, continuous=True)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    seen = []
    while len(seen) < samples:
        obs, _, term, trunc, _ = env.step(env.action_space.sample())
        seen.append(obs)
        if term or trunc:
            obs, _ = env.reset()
    act_dim, limit = env.action_space.shape[0], float(env.action_space.high[0])
    env.close()
    return np.asarray(seen, dtype=np.float64), act_dim, limit


def measure(env_id: str, obs: np.ndarray, act_dim: int, limit: float, actor: str, neuron: str, encoding: str,
            seed: int) -> dict:
    from spikekern.rl import td3
    from spikekern.rl.activity import Activity
    from spikekern.rl.checkpoint import seed_everything

    cfg = td3.TD3Config(env=env_id, actor=actor, neuron=neuron, seed=seed, **ENCODINGS[encoding])
    seed_everything(seed)  # as the trainer does before building its agent: the same initial weights
    agent = td3.Agent(cfg, obs.shape[1], act_dim, limit).eval()
    if encoding == "scripts":
        agent.norm.update(obs)
        x = agent.norm(torch.as_tensor(obs, dtype=torch.float32))
    else:
        x = torch.tanh(torch.as_tensor(obs, dtype=torch.float32))
    with Activity(agent.actor, limit) as rec, torch.no_grad():
        agent.actor(x)
    return dict(env=env_id, actor=actor, neuron=neuron, encoding=encoding, seed=seed, **rec.summary())


def table(rows: list[dict]) -> str:
    layers = layer_names(rows)
    head = ["env", "actor", "neuron", "encoding", "seed", *layers, "action std", "at bound"]
    return markdown(head, [[r["env"], r["actor"], r["neuron"], r["encoding"], str(r["seed"]),
                            *activity_cells(r, layers)] for r in rows])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", nargs="+", default=["Hopper-v5", "HalfCheetah-v5"])
    p.add_argument("--actor", default="popsan", choices=["popsan", "ilc-san"])
    p.add_argument("--neurons", nargs="+", default=["lif", "clif", "cuba"])
    p.add_argument("--encodings", nargs="+", default=list(ENCODINGS), choices=list(ENCODINGS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--samples", type=int, default=2000, help="observations per env")
    p.add_argument("--out", help="write the markdown table here")
    p.add_argument("--json", help="write the rows as JSON here")
    args = p.parse_args(argv)
    if args.samples < 2:
        p.error("--samples must be at least 2 (the scripts' encoding normalises by the sample's std)")
    torch.set_num_threads(1)
    rows = []
    for env_id in args.envs:
        obs, act_dim, limit = observations(env_id, args.samples, seed=0)
        for neuron in args.neurons:
            for encoding in args.encodings:
                for seed in args.seeds:
                    rows.append(measure(env_id, obs, act_dim, limit, args.actor, neuron, encoding, seed))
                    r = rows[-1]
                    print(f"{env_id} {neuron} {encoding} seed {seed}: output rate {r['rate/out_neurons']:.3f}, "
                          f"action std {r['action_std']:.3f}", flush=True)
    write(rows, table(rows), args.out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
