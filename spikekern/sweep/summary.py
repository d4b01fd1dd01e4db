"""`spikekern report DIR [DIR ...] [--out OUT]`: the table and curves of a sweep, read from its
run folders only (config.json, progress.csv, software.jsonl), so it needs no Ray and works on
copied folders. Several sweeps' folders (one task each, say) make one report across them, in OUT.

Per (env, agent), over seeds: mean and std of the final test return and of the best test
return (the ILC-SAN protocol reports the best evaluation of each run), the steps reached, the
training wall time and env steps/s. Writes summary.csv, summary.md and curves_<env>.png (each
agent's mean test return over seeds with a band of +- one std), and the statistics of
statistics.py: IQM and mean with bootstrap intervals, scores normalised to the ANN baseline,
the probability of improving on it (statistics.csv, more sections of summary.md, interval and
performance-profile plots); and published.py's figures from papers on the same tasks, beside
(never inside) those statistics; and, for runs that logged it, what the networks did at the
last evaluation (its mean test episode length and rl/activity.py's columns of progress.csv).
"""
from __future__ import annotations

import csv
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..rl import activity, provenance
from ..rl.algorithms import algorithms
from . import published, statistics
from .trials import env_dirname

FIELDS = ["env", "agent", "algo", "seeds", "final_return_mean", "final_return_std", "best_return_mean",
          "best_return_std", "steps", "wall_time_s", "env_steps_per_s"]


@dataclass
class Run:
    algo: str
    env: str
    agent: str
    seed: int
    steps: np.ndarray       # env steps at each evaluation
    returns: np.ndarray     # mean test return at each evaluation
    time_s: float           # training wall time at the last evaluation
    T: int | None = None    # the spiking network's time steps (None for the ANN baseline)
    software: list = field(default_factory=list)  # its starts' records (rl/provenance.py), oldest first
    activity: dict = field(default_factory=dict)  # the last evaluation's test_length and rl/activity.py columns

    @property
    def final(self) -> float:
        return float(self.returns[-1])

    @property
    def best(self) -> float:
        return float(self.returns.max())


def collect(*roots: Path) -> list[Run]:
    """Every run folder under the roots with at least one evaluation. One (env, agent, seed)
    found in two folders is refused: counted twice, one seed would narrow every interval."""
    table = algorithms()
    runs = []
    seen: dict[tuple[str, str, int], Path] = {}
    for cfg_path in (p for root in roots for p in sorted(Path(root).rglob("config.json"))):
        progress = cfg_path.parent / "progress.csv"
        if not progress.exists():
            continue
        cfg = json.loads(cfg_path.read_text())
        with open(progress, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows or cfg.get("algo") not in table:
            continue
        algo = table[cfg["algo"]]
        agent = algo.agent_of(cfg)
        runs.append(Run(cfg["algo"], cfg["env"], agent, int(cfg["seed"]),
                        np.array([float(r["step"]) for r in rows]), np.array([float(r["test_return"]) for r in rows]),
                        float(rows[-1]["time_s"]),
                        cfg.get(algo.time_steps_field) if agent != algo.baseline else None,
                        provenance.read(cfg_path.parent), _activity(rows[-1])))
        key = (runs[-1].env, agent, runs[-1].seed)
        if key in seen:
            raise ValueError(f"{key[0]} {key[1]} seed {key[2]} is in two run folders, {seen[key]} and "
                             f"{cfg_path.parent}: report each seed once")
        seen[key] = cfg_path.parent
    return runs


def _activity(row: dict) -> dict:
    """A progress.csv row's test_length and activity columns that hold a number (runs made
    before the columns existed, or a row written before them on resume, have none)."""
    out = {}
    for k, v in row.items():
        if (k == "test_length" or k.startswith(activity.COLUMN_PREFIXES)) and v not in ("", None):
            out[k] = float(v)
    return out


def groups(runs: list[Run]) -> dict[tuple[str, str], list[Run]]:
    """Runs by (env, agent), in the order first seen, each group sorted by seed."""
    out: dict[tuple[str, str], list[Run]] = {}
    for r in runs:
        out.setdefault((r.env, r.agent), []).append(r)
    return {k: sorted(v, key=lambda r: r.seed) for k, v in out.items()}


def summarize(runs: list[Run]) -> list[dict]:
    rows = []
    for (env, agent), rs in groups(runs).items():
        final, best = np.array([r.final for r in rs]), np.array([r.best for r in rs])
        steps = sorted({int(r.steps[-1]) for r in rs})
        rows.append(dict(env=env, agent=agent, algo=rs[0].algo, seeds=" ".join(str(r.seed) for r in rs),
                         final_return_mean=final.mean(), final_return_std=final.std(),
                         best_return_mean=best.mean(), best_return_std=best.std(),
                         steps=str(steps[0]) if len(steps) == 1 else f"{steps[0]}-{steps[-1]}",
                         wall_time_s=float(np.mean([r.time_s for r in rs])),
                         env_steps_per_s=float(np.mean([r.steps[-1] / r.time_s for r in rs]))))
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| env | agent | seeds | final test return | best test return | env steps | wall time | env steps/s |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['env']} | {r['agent']} | {r['seeds']} | {r['final_return_mean']:.1f} +- "
                     f"{r['final_return_std']:.1f} | {r['best_return_mean']:.1f} +- {r['best_return_std']:.1f} | "
                     f"{r['steps']} | {r['wall_time_s'] / 60:.1f} min | {r['env_steps_per_s']:.0f} |")
    return "\n".join(lines) + "\n"


def activity_markdown(runs: list[Run]) -> str:
    """What the networks did at their last evaluation, per (env, agent): the mean over the
    seeds that logged it of the test episodes' length, the actions' spread and share at the
    bound, and each spiking layer's firing rate and pinned share. Empty when no run logged
    them."""
    lines = []
    for (env, agent), rs in groups(runs).items():
        logged = [r for r in rs if r.activity]
        if not logged:
            continue
        mean = (lambda k: float(np.mean([r.activity[k] for r in logged if k in r.activity])))
        keys = list(dict.fromkeys(k for r in logged for k in r.activity))
        layers = [k.removeprefix("rate/") for k in keys if k.startswith("rate/")]
        cells = ", ".join(f"{name} {activity.layer_text(mean('rate/' + name), mean('pinned/' + name))}"
                          for name in layers)
        spread = (f"{mean('action_std'):.3f} | {100 * mean('action_saturated'):.1f}%" if "action_std" in keys
                  else "- | -")
        length = f"{mean('test_length'):.0f}" if "test_length" in keys else "-"
        lines.append(f"| {env} | {agent} | {' '.join(str(r.seed) for r in logged)} | {length} | {spread} | "
                     f"{cells or '-'} |")
    if not lines:
        return ""
    return "\n".join(["## What the networks did at the last evaluation", "",
                      "Means over the seeds whose progress.csv logs it (spikekern/rl/activity.py): the test "
                      "episodes' length in steps (a return earned by staying alive, such as a Hopper standing "
                      "still, shows here), the actions' "
                      "standard deviation over the test episodes' steps (0: one action whatever the observation) "
                      "and share of components at the bound; each spiking layer's firing rate (spikes per neuron "
                      "per time step) and, in brackets, the share of its neurons that fired at no step or at every "
                      "one.", "",
                      "| env | agent | seeds | episode length | action std | at bound | spiking layers: rate (pinned) |",
                      "|---|---|---|---:|---:|---:|---|", *lines]) + "\n"


def software_markdown(runs: list[Run]) -> str:
    """Which software made the runs: each distinct (commit, libraries) with the runs that
    started on it (a run resumed on other software counts under each)."""
    keys = ("commit", "dirty", *provenance.PACKAGES, "cpu_isa")
    seen: dict[tuple, set] = {}
    unrecorded = []
    for r in runs:
        if not r.software:
            unrecorded.append(r)
        for line in r.software:
            seen.setdefault(tuple(line.get(k) for k in keys), set()).add((r.env, r.agent, r.seed))
    header = ["spikekern commit", "uncommitted changes", *provenance.PACKAGES, "CPU kernels", "runs"]
    lines = ["## Software", "", "The code and libraries each run started on (run folders' software.jsonl; "
             "a run resumed on other software is counted under each).", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * (len(header) - 1) + "---:|"]
    for key, members in seen.items():
        commit, dirty, *rest = key
        cells = [(commit or "-")[:12], {True: "yes", False: "no"}.get(dirty, "-"), *("-" if v is None else v for v in rest)]
        lines.append("| " + " | ".join(map(str, cells)) + f" | {len(members)} |")
    if unrecorded:
        blank = " |" * (len(header) - 2)
        lines.append(f"| not recorded (runs made before software.jsonl was kept) |{blank} {len(unrecorded)} |")
    return "\n".join(lines) + "\n"


def curves(runs: list[Run], out_dir: Path) -> list[Path]:
    """curves_<env>.png: per agent, the mean test return over seeds at the evaluations every
    seed has reached, with a band of +- one std."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    by_env: dict[str, list] = {}
    for (env, agent), rs in groups(runs).items():
        by_env.setdefault(env, []).append((agent, rs))
    for env, agents in by_env.items():
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        for agent, rs in agents:
            common = sorted(set.intersection(*(set(r.steps.tolist()) for r in rs)))
            ys = np.array([[r.returns[r.steps.tolist().index(s)] for s in common] for r in rs])
            mean, std = ys.mean(0), ys.std(0)
            ax.plot(common, mean, marker="o", markersize=3, label=f"{agent} ({len(rs)} seeds)")
            ax.fill_between(common, mean - std, mean + std, alpha=0.2)
        ax.set_xlabel("env steps")
        ax.set_ylabel("mean test return (band: +- 1 std over seeds)")
        ax.set_title(env)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        paths.append(statistics.save_figure(fig, Path(out_dir) / f"curves_{env_dirname(env)}.png"))
    return paths


def write(root: Path, sources: list[Path] | tuple = ()) -> list[Path]:
    """summary.csv, summary.md and the curves, in root, of the run folders under sources
    (default: root itself)."""
    root = Path(root)
    sources = [Path(s) for s in sources] or [root]
    runs = collect(*sources)
    if not runs:
        raise FileNotFoundError(f"no run folders with evaluations under {', '.join(map(str, sources))}")
    root.mkdir(parents=True, exist_ok=True)
    rows = summarize(runs)
    with open(root / "summary.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    text = ("Mean +- std over seeds (population std) of each run's last and best evaluation (mean test return); "
            "wall time and env steps/s: training time of the run, evaluations included.\n\n" + markdown(rows))
    if sources != [root]:  # where the runs are, as paths from this folder, so that the pair can move together
        text = ("Runs read from " + ", ".join(f"`{Path(os.path.relpath(s, root)).as_posix()}`" for s in sources)
                + " (paths from this folder).\n\n" + text)
    paths = [root / "summary.csv", root / "summary.md", *curves(runs, root)]
    try:
        text_stats, stats_paths = write_statistics(runs, root)
    except ImportError as exc:  # said, not hidden: the tables above are written all the same
        print(f"spikekern report: no IQM, intervals or normalised scores: {exc}", file=sys.stderr)
        text_stats, stats_paths = "", []
    text_published = published.markdown(groups(runs), statistics.random_scores())
    text_activity = activity_markdown(runs)
    text_software = software_markdown(runs)
    (root / "summary.md").write_text("\n".join(t for t in (text, text_stats, text_published, text_activity,
                                                          text_software) if t))
    return paths + stats_paths


def write_statistics(runs: list[Run], root: Path) -> tuple[str, list[Path]]:
    """statistics.py's tables and plots for each algorithm of the sweep (summary.md's further
    sections, statistics.csv, intervals_*.png, profiles_*.png)."""
    table = algorithms()
    by_algo: dict[str, list[Run]] = {}
    for r in runs:
        by_algo.setdefault(r.algo, []).append(r)
    text, paths, csv_rows = "", [], []
    for algo, rs in by_algo.items():
        g = groups(rs)
        task_rows = statistics.per_task(g)
        csv_rows += [dict(algo=algo, **r) for r in task_rows]
        baseline = table[algo].baseline
        text += statistics.task_markdown(task_rows)
        if not baseline:
            continue
        if not any(agent == baseline for _, agent in g):
            text += f"\nNo {baseline} runs in this sweep: the across-task sections normalise by them.\n"
            continue
        prefix = "" if len(by_algo) == 1 else f"{algo}_"
        agg = statistics.aggregate(g, baseline)
        text += statistics.aggregate_markdown(agg, baseline)
        paths += statistics.plots(agg, root, prefix=prefix)
        random = statistics.random_scores()
        if any(env in random for env, _ in g):
            agg = statistics.aggregate(g, baseline, random)
            text += statistics.aggregate_markdown(agg, baseline, random=True)
            paths += statistics.plots(agg, root, prefix=prefix + "random_", label=f"random-to-{baseline}")
    with open(root / "statistics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(csv_rows[0]))
        w.writeheader()
        w.writerows(csv_rows)
    return text, [root / "statistics.csv", *paths]
