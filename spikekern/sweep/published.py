"""Published figures beside a sweep's own: `spikekern report` prints, for every task of the
sweep that a table of published.json covers, the paper's rows for this package's agents (the
same method at each T it reports), the paper's ANN baseline and random anchor, and this
sweep's best returns, each with its budget and seeds. They are shown, never pooled: the
statistics of statistics.py see this sweep's runs only.

Tasks match by name without the version (the papers use MuJoCo -v4, this package -v5;
MinAtar and Atari tables name games only), and the table says which version it used.
Each row is also given as the source normalises it (CMC-DSQN: (score - Random) / (DQN -
Random); CaRe-BN: score / ANN), and this sweep's rows the same way against this sweep's own
ANN (and random_scores.json's random policy), so the two can be compared as shares of
their own baselines, which budgets as different as 200k and 5M steps still allow.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..rl.algorithms import algorithms
from .statistics import share

PUBLISHED = Path(__file__).with_name("published.json")


def tables() -> list[dict]:
    return json.loads(PUBLISHED.read_text())["tables"]


def task(env: str) -> str:
    """'HalfCheetah-v5' -> 'HalfCheetah', 'MinAtar/Breakout-v1' -> 'MinAtar/Breakout'."""
    return re.sub(r"-v\d+$", "", env)


def _row(table: dict, method: str) -> dict | None:
    return next((r for r in table["rows"] if r["method"] == method), None)


def _share(score: float, base: float, anchor: float | None) -> float | None:
    """score as the source normalises it: (score - anchor) / (base - anchor), or score / base
    (None where the baseline equals the anchor)."""
    zero = 0.0 if anchor is None else anchor
    return None if base == zero else share(score, base, zero)


def _fmt_share(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def markdown(groups: dict, random: dict[str, float]) -> str:
    """The section of summary.md: groups are summary.groups() of the sweep's runs, random
    env -> a random policy's return (statistics.random_scores())."""
    ours: dict[str, dict[str, list]] = {}
    for (env, agent), runs in groups.items():
        ours.setdefault(env, {})[agent] = runs
    out = []
    for table in tables():
        agg = table["aggregate"]
        base_row, anchor_row = _row(table, agg["baseline"]), _row(table, agg.get("anchor", ""))
        covered = [env for env in ours if any(task(env) == task(k) for k in base_row["scores"])]
        if not covered:
            continue
        kind = table["kind"]
        out += [f"### {table['citation']}, {table['where']}", "",
                f"{table['benchmark']}, {table['algorithm']}; {table['budget']}, {table['seeds']} seeds; metric: "
                f"{table['metric']}. {table['notes']}.", "",
                f"This sweep: the {kind} evaluation of each run, mean +- std over its seeds, at its own budget. "
                + (f"share = (score - {agg['anchor']}) / ({agg['baseline']} - {agg['anchor']}), the source's "
                   f"{agg['name']} being its mean over the tasks" if anchor_row else
                   f"share = score / {agg['baseline']}, the source's {agg['name']} being its mean over the tasks "
                   "minus 100%")
                + "; this sweep's rows against its own baseline"
                + (" and random_scores.json's random policy" if anchor_row else "") + ".", "",
                "| task | source | method | T | budget | seeds | score | share |",
                "|---|---|---|---:|---|---:|---:|---:|"]
        for env in covered:
            key = next(k for k in base_row["scores"] if task(k) == task(env))
            base, anchor = base_row["scores"][key]["mean"], anchor_row["scores"][key]["mean"] if anchor_row else None
            for row in table["rows"]:
                if row is not base_row and row is not anchor_row and row["agent"] not in ours[env]:
                    continue
                s = row["scores"][key]
                score = f"{s['mean']:.2f}" + (f" +- {s['std']:.2f}" if "std" in s else "")
                name = row["method"] + (f" (= {row['agent']})" if row["agent"] else "")
                out.append(f"| {key} | published | {name} | {row['T'] or ''} | {table['budget']} | {table['seeds']} | "
                           f"{score} | {_fmt_share(_share(s['mean'], base, anchor))} |")
            out += _ours(env, ours[env], random, kind, anchor_row is not None)
        shown = [r for r in table["rows"] if r is base_row or any(r["agent"] in ours[env] for env in covered)]
        out += ["", f"The source's {agg['name']} over all its {len(base_row['scores'])} tasks: " + ", ".join(
            r["method"] + (f" T={r['T']}" if r["T"] else "") + f" {r['aggregate']:.2f}%" for r in shown) + ".", ""]
    if not out:
        return ""
    return "## Published figures beside this sweep's (not part of the statistics above)\n\n" + "\n".join(out)


def _ours(env: str, agents: dict, random: dict, kind: str, anchored: bool) -> list[str]:
    lines = []
    for agent, runs in agents.items():
        spec = algorithms()[runs[0].algo]
        base_runs = agents.get(spec.baseline)
        scores = np.array([getattr(r, kind) for r in runs])
        share = None
        if base_runs and (env in random or not anchored):
            share = _share(scores.mean(), float(np.mean([getattr(r, kind) for r in base_runs])),
                           random[env] if anchored else None)
        steps = sorted({int(r.steps[-1]) for r in runs})
        unit = "env steps" if spec.column == "step" else spec.column
        budget = f"{steps[0]} {unit}" if len(steps) == 1 else f"{steps[0]}-{steps[-1]} {unit}"
        lines.append(f"| {env} | this sweep | {agent} | {runs[0].T or ''} | {budget} | {len(runs)} | "
                     f"{scores.mean():.2f} +- {scores.std():.2f} | {_fmt_share(share)} |")
    return lines
