"""Published figures (spikekern/sweep/published.json) and how `spikekern report` shows them:
each table's own aggregate column recomputed from its rows (a check on the transcription),
the agents they name exist, and a report on hand-made run folders prints the published rows
and this sweep's own beside them, with every share computed here independently, and leaves
the statistics untouched."""
import csv
import dataclasses
import json

import numpy as np
import pytest

from spikekern.rl.algorithms import algorithms
from spikekern.sweep import published, statistics, summary

TABLES = published.tables()


@pytest.mark.parametrize("table", TABLES, ids=[t["key"] for t in TABLES])
def test_the_papers_aggregate_follows_from_its_rows(table):
    """APR (CMC-DSQN): mean of (score - Random) / (ANN - Random); APG (CaRe-BN): mean of
    score / ANN - 1. Rounded inputs move the last printed digit at most."""
    agg = table["aggregate"]
    rows = {(r["method"], r["T"]): r for r in table["rows"]}
    base = next(r for r in table["rows"] if r["method"] == agg["baseline"])
    anchor = next((r for r in table["rows"] if r["method"] == agg.get("anchor")), None)
    tasks = list(base["scores"])
    for (method, T), row in rows.items():
        assert list(row["scores"]) == tasks, (table["key"], method, T)
        s = np.array([row["scores"][k]["mean"] for k in tasks])
        b = np.array([base["scores"][k]["mean"] for k in tasks])
        if anchor:
            a = np.array([anchor["scores"][k]["mean"] for k in tasks])
            mine = 100 * np.mean((s - a) / (b - a))
        else:
            mine = 100 * np.mean(s / b - 1)
        assert mine == pytest.approx(row["aggregate"], abs=0.015), (table["key"], method, T, mine)


def test_every_table_states_its_source_budget_seeds_and_metric():
    for t in TABLES:
        assert "arXiv:" in t["citation"] and t["where"], t["key"]
        assert t["budget"] and t["budget_steps"] > 0 and t["seeds"] > 0 and t["metric"], t["key"]
        assert t["kind"] in statistics.KINDS, t["key"]


def test_agents_named_by_the_tables_are_this_packages_agents():
    known = set()
    for algo in algorithms().values():
        field = next(f for f in dataclasses.fields(algo.config_cls) if f.name == algo.agent_field)
        known |= set(field.metadata["choices"])
    named = {r["agent"] for t in TABLES for r in t["rows"] if r["agent"]}
    assert named and named <= known, named - known
    assert {"dqn", "pl-sdqn", "ann", "ilc-san", "popsan"} <= named


def _run(root, algo, env, agent, seed, returns, **cfg):
    run = root / env / agent / f"seed{seed}"
    run.mkdir(parents=True)
    field = algorithms()[algo].agent_field
    (run / "config.json").write_text(json.dumps(dict(algo=algo, env=env, seed=seed, **{field: agent}, **cfg)))
    with open(run / "progress.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["step", "test_return", "time_s"])
        w.writeheader()
        w.writerows(dict(step=1000 * (i + 1), test_return=r, time_s=10.0 * (i + 1)) for i, r in enumerate(returns))


def _lines(md: str, start: str) -> list[str]:
    return [ln for ln in md.splitlines() if ln.startswith(start)]


def test_report_shows_published_rows_beside_its_own(tmp_path):
    """A MinAtar sweep (dqn and pl-sdqn at T = 4, Breakout): the published DQN, Random and
    pbLN (= pl-sdqn) rows at every T with their shares, and this sweep's rows, shares against
    its own dqn and random_scores.json's random policy."""
    best = {"dqn": [10.0, 14.0], "pl-sdqn": [9.0, 12.0]}
    for agent, bests in best.items():
        for seed, b in enumerate(bests):
            _run(tmp_path, "dqn", "MinAtar/Breakout-v1", agent, seed, [1.0, b, b - 2], time_window=4)
    summary.write(tmp_path)
    md = (tmp_path / "summary.md").read_text()
    assert "## Published figures beside this sweep's" in md
    table = next(t for t in TABLES if t["key"] == "cmc-dsqn-minatar")
    rows = {(r["method"], r["T"]): r["scores"]["MinAtar/Breakout"] for r in table["rows"]}
    rand, ann = rows[("Random", None)]["mean"], rows[("DQN (ANN)", None)]["mean"]
    published_lines = _lines(md, "| MinAtar/Breakout | published |")
    assert len(published_lines) == 5  # Random, DQN and pbLN at T = 2, 4, 6; no other method
    for T in (2, 4, 6):
        s = rows[("pbLN", T)]
        line = next(ln for ln in published_lines if f"| pbLN (= pl-sdqn) | {T} |" in ln)
        assert f"{s['mean']:.2f} +- {s['std']:.2f}" in line
        assert line.endswith(f"| {100 * (s['mean'] - rand) / (ann - rand):.0f}% |")
    random = statistics.random_scores()["MinAtar/Breakout-v1"]
    ours = {ln.split("|")[3].strip(): ln for ln in _lines(md, "| MinAtar/Breakout-v1 | this sweep |")}
    assert set(ours) == {"dqn", "pl-sdqn"}
    mine = np.mean(best["pl-sdqn"])
    share = (mine - random) / (np.mean(best["dqn"]) - random)
    assert ours["pl-sdqn"].endswith(f"| {mine:.2f} +- {np.std(best['pl-sdqn']):.2f} | {100 * share:.0f}% |")
    assert "| pl-sdqn | 4 | 3000 frames | 2 |" in ours["pl-sdqn"] and "| dqn |  |" in ours["dqn"]
    assert "pbLN T=4 70.08%" in md
    # the statistics see this sweep's runs only
    with open(tmp_path / "statistics.csv") as f:
        assert {(r["env"], r["agent"]) for r in csv.DictReader(f)} == {("MinAtar/Breakout-v1", a) for a in best}


def test_mujoco_table_matches_by_name_without_version_and_ratio_share(tmp_path):
    """CaRe-BN used -v4 envs; a -v5 sweep is shown beside them, the share a plain ratio."""
    for agent, b in (("ann", 2000.0), ("ilc-san", 1500.0)):
        _run(tmp_path, "td3", "Hopper-v5", agent, 0, [100.0, b], spike_ts=5)
    summary.write(tmp_path)
    md = (tmp_path / "summary.md").read_text()
    care = {r["method"]: r["scores"]["Hopper-v4"]["mean"] for r in next(t for t in TABLES if t["key"] == "care-bn")["rows"]}
    line = _lines(md, "| Hopper-v4 | published | ILC-SAN (= ilc-san) |")[0]
    assert line.endswith(f"| {care['ILC-SAN']:.2f} | {100 * care['ILC-SAN'] / care['ANN']:.0f}% |")
    assert _lines(md, "| Hopper-v5 | this sweep | ilc-san | 5 |")[0].endswith("| 1500.00 +- 0.00 | 75% |")
    assert not _lines(md, "| Hopper-v4 | published | MDC-SAN")  # no agent of the sweep is that method


def test_no_section_for_tasks_no_table_covers(tmp_path):
    _run(tmp_path, "td3", "EnvA-v0", "ann", 0, [1.0, 2.0])
    summary.write(tmp_path)
    assert "Published figures" not in (tmp_path / "summary.md").read_text()


def test_a_sweep_without_its_baseline_says_so(tmp_path):
    _run(tmp_path, "td3", "Hopper-v5", "ilc-san", 0, [100.0, 1500.0], spike_ts=5)
    summary.write(tmp_path)
    md = (tmp_path / "summary.md").read_text()
    assert "No ann runs in this sweep" in md and "## Across tasks" not in md
    assert _lines(md, "| Hopper-v5 | this sweep | ilc-san | 5 |")[0].endswith("| 1500.00 +- 0.00 | - |")
