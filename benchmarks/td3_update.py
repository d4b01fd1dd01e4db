"""Time one TD3 update of each agent (the names `spikekern sweep` takes: ann, ilc-san,
ilc-san+proxy, popsan-lif+proxy, ...) on one env, after 300 env steps of training (so the
spikes are those of learning), 1 thread, K seeds per process (`--seeds`, as
`--seeds-per-trial`); AGENT:dense is the agent with every layer a plain product (no
spike_linear). Rounds alternate the agents; the median per agent is printed. For an
A/B of two trees, run it from each (PYTHONPATH=<tree>) in turn, nothing else running:

    python benchmarks/td3_update.py --env Hopper-v5 --agents ann ilc-san ilc-san+proxy --out FILE.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import torch

from spikekern.bench.updates import dense_layers, profile_updates, speedup_if_free, time_updates, warmed


def trainer(env: str, agent: str, seeds: int, out: Path):
    """The agent's trainer; AGENT:dense builds every layer as a plain product (nn.Linear), as
    the models were before spike_linear, for a same-run comparison."""
    from spikekern.rl import algorithms, td3

    agent, dense = agent.removesuffix(":dense"), agent.endswith(":dense")
    options = algorithms.get("td3").agent_options(agent)
    cfg = td3.TD3Config(env=env, start_steps=0, update_after=200, update_every=50, threads=1, steps=10**9,
                        **options)
    with dense_layers(dense):
        return td3.TD3Trainer(cfg, out, seeds=list(range(seeds)) if seeds > 1 else None)


def update_ms(env: str, agent: str, seeds: int, updates: int) -> float:
    """Mean time of one update() over `updates` of them (each seed's update included)."""
    with tempfile.TemporaryDirectory() as tmp, warmed(trainer(env, agent, seeds, Path(tmp) / "run")) as tr:
        return time_updates(tr, updates)


def breakdown(env: str, agent: str, seeds: int, updates: int) -> dict:
    """Where one update's time goes (spikekern.bench.updates.profile_updates)."""
    with tempfile.TemporaryDirectory() as tmp, warmed(trainer(env, agent, seeds, Path(tmp) / "run")) as tr:
        return profile_updates(tr, updates)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="Hopper-v5")
    p.add_argument("--agents", nargs="+", default=["ann", "ilc-san", "ilc-san+proxy"])
    p.add_argument("--seeds", type=int, default=1, help="seeds trained in one process (default 1)")
    p.add_argument("--updates", type=int, default=30, help="updates timed per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--profile", action="store_true",
                   help="after the rounds, profile `--updates` updates of each agent and print where the time goes")
    p.add_argument("--out")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    times: dict[str, list[float]] = {a: [] for a in args.agents}
    for r in range(args.rounds):
        for agent in args.agents:
            times[agent].append(update_ms(args.env, agent, args.seeds, args.updates))
            print(f"round {r + 1}: {agent}: {times[agent][-1]:.2f} ms per update", flush=True)
    median = {a: statistics.median(t) for a, t in times.items()}
    for agent, ms in median.items():
        print(f"{args.env}, {agent}, {args.seeds} seed(s): median {ms:.2f} ms per update")
    profiles = {}
    for agent in args.agents if args.profile else ():
        profiles[agent] = prof = breakdown(args.env, agent, args.seeds, args.updates)
        total = sum(prof["ms_per_update"].values())
        shares = ", ".join(f"{g} {v / total:.0%}" for g, v in sorted(prof["ms_per_update"].items(), key=lambda kv: -kv[1]))
        prof["if_free"] = {g: speedup_if_free(prof["ms_per_update"], (g,)) for g in prof["ms_per_update"]}
        free = ", ".join(f"{g} {x:.2f}x" for g, x in prof["if_free"].items())
        print(f"{agent}: {prof['op_calls_per_update']:.0f} op calls per update; self time (profiled, "
              f"{total:.2f} ms): {shares}; the update if a group cost nothing: {free}")
    if args.out:
        from spikekern.bench.report import machine_info

        meta = dict(command="python benchmarks/td3_update.py " + " ".join(argv or sys.argv[1:]),
                    machine=machine_info("cpu"))
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(dict(meta=meta, median_ms=median, rounds_ms=times, profiles=profiles),
                                              indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
