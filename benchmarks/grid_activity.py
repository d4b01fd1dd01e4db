"""What the final agents of a sweep do: for every run folder under DIR that holds a model.pt,
its mean test return and, while it plays those episodes, each spiking layer's firing rate and
how its actions vary (spikekern.rl.activity, the same numbers as `spikekern eval --activity`).
One row per run, as a markdown table (a layer's cell: its firing rate, and in brackets the
share of its neurons that fired at no step or at every one), and JSON with --json; 1 thread.
With --initial (TD3), also a row for the agent as its run began, which tells an actor that
never learned from one that learned and then collapsed:

    python benchmarks/grid_activity.py DIR --episodes 10 --initial --out DIR/activity.md
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch


def runs(root: Path) -> list[Path]:
    """Run folders under root with a saved agent, by (env, agent, seed)."""
    from spikekern.rl.algorithms import get

    found = []
    for model in Path(root).rglob("model.pt"):
        cfg = json.loads((model.parent / "config.json").read_text())
        found.append(((cfg["env"], get(cfg["algo"]).agent_of(cfg), int(cfg["seed"])), model.parent))
    return [d for _, d in sorted(found)]


def initial(policy):
    """The agent as its run began: the run's seed, then a TD3 agent of its config, as
    TD3Trainer builds each seed's (so the same initial weights), with the trained agent's
    observation normaliser (so both see the same inputs)."""
    from spikekern.rl import td3
    from spikekern.rl.checkpoint import seed_everything

    if policy.algo != "td3":
        raise SystemExit(f"--initial is for TD3 runs, not {policy.algo}")
    seed_everything(policy.cfg.seed)
    trained = policy.net
    obs_dim, act_dim = trained.q1.obs_dim, trained.q1.act_dim
    fresh = td3.Agent(policy.cfg, obs_dim, act_dim, trained.actor.act_limit)
    fresh.norm.load_state_dict(trained.norm.state_dict())
    policy.net = fresh.eval()
    return policy


def measure(run_dir: Path, episodes: int, seed: int, fresh: bool = False) -> dict:
    from spikekern.rl import activity, load_agent

    policy = load_agent(run_dir)
    if fresh:
        policy = initial(policy)
    cfg = policy.cfg
    with activity.Activity(*policy.spec.acting(policy.net)) as rec:
        returns = policy.evaluate(episodes, seed)
    return dict(env=cfg.env, agent=policy.spec.agent_of(dataclasses.asdict(cfg)), seed=cfg.seed,
                weights="initial" if fresh else f"step {saved_step(run_dir, policy.spec.column)}",
                test_return=float(np.mean(returns)), **rec.summary())


def saved_step(run_dir: Path, column: str) -> int:
    """Where the run was when model.pt was written: progress.csv's last row (model.pt is saved
    with each evaluation)."""
    with open(run_dir / "progress.csv", newline="") as f:
        return int(float(list(csv.DictReader(f))[-1][column]))


def _known(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def layer_names(rows: list[dict]) -> list[str]:
    """The spiking layers of any row, in order of first appearance (an ANN's rows have none)."""
    return list(dict.fromkeys(k.removeprefix("rate/") for r in rows for k in r if k.startswith("rate/")))


def activity_cells(r: dict, layers: list[str]) -> list[str]:
    """A row's activity as table cells: per layer "rate (pinned %)", then the actions' std
    and share at the bound; blank where the row has no such number."""
    from spikekern.rl.activity import layer_text

    def layer(name):
        rate, pinned = r.get(f"rate/{name}"), r.get(f"pinned/{name}")
        return layer_text(rate, pinned) if _known(rate) else ""

    return [*(layer(name) for name in layers),
            f"{r['action_std']:.3f}" if _known(r.get("action_std")) else "",
            f"{100 * r['action_saturated']:.1f}%" if _known(r.get("action_saturated")) else ""]


def markdown(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in rows]) + "\n"


def table(rows: list[dict]) -> str:
    """Rows as markdown, a layer's cell "rate (pinned %)"; the layers' columns are the union
    over rows (an ANN has none)."""
    layers = layer_names(rows)
    head = ["env", "agent", "seed", "agent as of", "test return", *layers, "action std", "at bound"]
    return markdown(head, [[r["env"], r["agent"], str(r["seed"]), r["weights"], f"{r['test_return']:.1f}",
                            *activity_cells(r, layers)] for r in rows])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", help="a sweep's folder (any folder holding run folders with model.pt)")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=12345, help="seed of the first episode (as spikekern eval)")
    p.add_argument("--initial", action="store_true",
                   help="TD3: also measure each run's agent as it began (fresh weights under its seed, the "
                        "trained observation normaliser), a row before each trained one")
    p.add_argument("--out", help="write the markdown table here")
    p.add_argument("--json", help="write the rows as JSON here")
    args = p.parse_args(argv)
    torch.set_num_threads(1)

    def each(run_dir):
        fresh = [measure(run_dir, args.episodes, args.seed, fresh=True)] if args.initial else []
        return fresh + [measure(run_dir, args.episodes, args.seed)]

    return tabulate(args.dir, each, table, args.out, args.json)


def tabulate(root, each, table, out: str | None, json_path: str | None) -> int:
    """The rows each(run_dir) gives for every run folder under root with a model.pt, printed
    as table(rows) and written to out (markdown) and json_path (JSON) where given; 2 (and
    nothing written) when root holds no such folder. A line of progress per run."""
    found = runs(Path(root))
    if not found:
        print(f"no run folder with a model.pt under {root}", file=sys.stderr)
        return 2
    rows = []
    for i, run_dir in enumerate(found, 1):
        rows += each(run_dir)
        print(f"[{i}/{len(found)}] {run_dir}: return {rows[-1]['test_return']:.1f}", flush=True)
    write(rows, table(rows), out, json_path)
    return 0


def write(rows: list[dict], text: str, out: str | None, json_path: str | None) -> None:
    """Print the table text and write it to out (markdown) and the rows to json_path (JSON),
    where given, making their folders as needed."""
    print(text)
    if out:
        _write_text(out, text)
    if json_path:
        _write_text(json_path, json.dumps(rows, indent=1))


def _write_text(path: str, text: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)


if __name__ == "__main__":
    sys.exit(main())
