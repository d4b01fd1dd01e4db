"""`spikekern report`'s statistics (spikekern/sweep/statistics.py, rliable) on hand-made run
folders, each figure computed here independently: IQMs and means, bootstrap intervals, scores
normalised to the ANN baseline, the probability of improvement, and a task whose baseline
cannot be a denominator."""
import csv
import json
import shutil

import numpy as np
import pytest

pytest.importorskip("rliable", reason="the [sweep] extra is not installed")

from spikekern.sweep import statistics, summary  # noqa: E402

SEEDS = range(8)


def _run(root, env, agent, seed, returns):
    run = root / env / agent / f"seed{seed}"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(dict(algo="td3", env=env, actor=agent, seed=seed)))
    with open(run / "progress.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["step", "test_return", "time_s"])
        w.writeheader()
        w.writerows(dict(step=1000 * (i + 1), test_return=r, time_s=10.0 * (i + 1)) for i, r in enumerate(returns))


@pytest.fixture
def sweep(tmp_path):
    """Two tasks with positive returns and one with negative ones; an ANN and a spiking agent,
    8 seeds each, three evaluations per run (the last is the final, the largest the best)."""
    rng = np.random.default_rng(0)
    finals = {}
    for env, scale in (("EnvA-v0", 100.0), ("EnvB-v0", 10.0), ("Neg-v0", -50.0)):
        for agent, level in (("ann", 1.0), ("ilc-san", 0.9)):
            for seed in SEEDS:
                final = scale * level * (1 + 0.2 * rng.standard_normal())
                returns = [final * 0.5, final * 1.3, final] if scale > 0 else [final * 2, final * 0.5, final]
                _run(tmp_path, env, agent, seed, returns)
                finals[(env, agent, seed)] = (final, max(returns))
    return tmp_path, finals


def _iqm(x):
    x = np.sort(np.ravel(x))
    k = len(x) // 4  # the 25% trimmed mean of 8 or 16 values: drop a quarter at each end
    return x[k:len(x) - k].mean()


def _bootstrap_ci(x, func, reps=20_000, seed=1):
    rng = np.random.default_rng(seed)
    stats = [func(rng.choice(x, size=len(x), replace=True)) for _ in range(reps)]
    return np.percentile(stats, [2.5, 97.5])


def test_per_task_iqm_mean_and_intervals(sweep, monkeypatch):
    monkeypatch.setenv(statistics.REPS_ENV, "2000")  # enough for the comparison below
    root, finals = sweep
    rows = {(r["env"], r["agent"]): r for r in statistics.per_task(summary.groups(summary.collect(root)))}
    for env in ("EnvA-v0", "EnvB-v0"):
        for agent in ("ann", "ilc-san"):
            final = np.array([finals[(env, agent, s)][0] for s in SEEDS])
            best = np.array([finals[(env, agent, s)][1] for s in SEEDS])
            r = rows[(env, agent)]
            assert r["final_iqm"] == pytest.approx(_iqm(final))
            assert r["final_mean"] == pytest.approx(final.mean())
            assert r["best_iqm"] == pytest.approx(_iqm(best))
            # The interval: an independent percentile bootstrap over seeds agrees within a few
            # percent of the data's spread (both are Monte Carlo estimates).
            lo, hi = _bootstrap_ci(final, np.mean)
            spread = final.max() - final.min()
            assert abs(r["final_mean_lo"] - lo) < 0.05 * spread and abs(r["final_mean_hi"] - hi) < 0.05 * spread
            assert r["final_mean_lo"] < r["final_mean"] < r["final_mean_hi"]


def test_normalised_aggregate_and_probability_of_improvement(sweep):
    root, finals = sweep
    agg = statistics.aggregate(summary.groups(summary.collect(root)), "ann")["final"]
    assert agg["tasks"] == ["EnvA-v0", "EnvB-v0"] and agg["skipped"] == ["Neg-v0"]  # a negative baseline mean
    norm = {}
    for agent in ("ann", "ilc-san"):
        norm[agent] = np.array([[finals[(env, agent, s)][0] / np.mean([finals[(env, "ann", t)][0] for t in SEEDS])
                                 for env in agg["tasks"]] for s in SEEDS])
        np.testing.assert_allclose(agg["scores"][agent], norm[agent])
        assert agg["iqm"][agent][0] == pytest.approx(_iqm(norm[agent]))
        assert agg["mean"][agent][0] == pytest.approx(norm[agent].mean())
    assert agg["mean"]["ann"][0] == pytest.approx(1.0)
    # P(ilc-san > ann), per task over every pair of runs (ties count half), averaged over tasks.
    x, y = norm["ilc-san"], norm["ann"]
    poi = np.mean([np.mean((x[:, None, m] > y[None, :, m]) + 0.5 * (x[:, None, m] == y[None, :, m]))
                   for m in range(x.shape[1])])
    point, lo, hi = agg["improvement"]["ilc-san"]
    assert point == pytest.approx(poi) and lo <= point <= hi
    assert "ann" not in agg["improvement"]


def test_report_writes_the_statistics_beside_the_table(sweep):
    root, _ = sweep
    paths = {p.name for p in summary.write(root)}
    assert {"summary.csv", "summary.md", "statistics.csv", "intervals_final.png", "profiles_final.png",
            "intervals_best.png", "profiles_best.png"} <= paths
    md = (root / "summary.md").read_text()
    assert "| env | agent | seeds | final test return |" in md  # the mean +- std table stays
    assert "IQM [95% CI]" in md and "P(improves on ann)" in md and "left out (no positive ann mean): Neg-v0" in md
    with open(root / "statistics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and {"final_iqm_lo", "best_mean_hi"} <= set(rows[0])


def test_random_to_ann_normalisation(sweep, tmp_path_factory, monkeypatch):
    """With a random policy's score per task, (score - random) / (ANN - random): defined for
    negative returns too, so Neg-v0 takes part."""
    root, finals = sweep
    table = tmp_path_factory.mktemp("ref") / "random_scores.json"
    random = {"EnvA-v0": 5.0, "EnvB-v0": -1.0, "Neg-v0": -400.0}
    table.write_text(json.dumps(dict(how="test", scores={k: dict(mean=v) for k, v in random.items()})))
    monkeypatch.setattr(statistics, "RANDOM_SCORES", table)
    assert statistics.random_scores() == random
    agg = statistics.aggregate(summary.groups(summary.collect(root)), "ann", statistics.random_scores())["final"]
    assert agg["tasks"] == ["EnvA-v0", "EnvB-v0", "Neg-v0"] and agg["skipped"] == []
    for agent in ("ann", "ilc-san"):
        want = np.array([[(finals[(env, agent, s)][0] - random[env])
                          / (np.mean([finals[(env, "ann", t)][0] for t in SEEDS]) - random[env])
                          for env in agg["tasks"]] for s in SEEDS])
        np.testing.assert_allclose(agg["scores"][agent], want)
    assert agg["mean"]["ann"][0] == pytest.approx(1.0)
    paths = {p.name for p in summary.write(root)}
    assert {"random_intervals_final.png", "random_profiles_best.png"} <= paths
    assert "random-to-ann normalised" in (root / "summary.md").read_text()


def test_a_report_is_the_same_every_time(sweep):
    """The bootstrap's resamples come from a fixed seed, whatever numpy's global state."""
    root, _ = sweep
    g = summary.groups(summary.collect(root))
    first = statistics.aggregate(g, "ann")
    np.random.seed(12345)
    before = np.random.get_state()[1].copy()
    again = statistics.aggregate(g, "ann")
    assert (np.random.get_state()[1] == before).all()  # the caller's generator is left as it was
    for kind in statistics.KINDS:
        for part in ("iqm", "mean", "improvement"):
            assert first[kind][part] == again[kind][part], (kind, part)


def test_a_reports_figures_are_the_same_every_time(sweep):
    """The performance profiles' bootstrap bands too: a report rebuilt from the same runs
    writes the same bytes, so a committed report changes only when its runs do."""
    root, _ = sweep

    def figures():
        return {p.name: p.read_bytes() for p in summary.write(root) if p.suffix == ".png"}

    np.random.seed(1)
    first = figures()
    np.random.seed(2)
    again = figures()
    assert {"profiles_final.png", "profiles_best.png"} <= set(first)
    assert [name for name in first if first[name] != again[name]] == []


@pytest.mark.parametrize("value", ["0", "99", "many", "-5"])
def test_a_bad_number_of_resamples_is_an_error(monkeypatch, value):
    monkeypatch.setenv(statistics.REPS_ENV, value)
    with pytest.raises(ValueError, match="SPIKEKERN_BOOTSTRAP_REPS must be a whole number of at least 100"):
        statistics.bootstrap_reps()


def test_a_report_across_several_sweeps_is_the_report_of_their_runs_together(sweep, tmp_path_factory, monkeypatch):
    """`spikekern report A B --out C`: the same tables as one sweep holding A's and B's runs,
    with where they came from; without --out it is refused, as is a seed found twice."""
    from spikekern import cli

    monkeypatch.setenv(statistics.REPS_ENV, "200")
    root, _ = sweep
    parts = tmp_path_factory.mktemp("parts")
    for env in ("EnvA-v0", "EnvB-v0", "Neg-v0"):
        group = "first" if env == "EnvA-v0" else "second"
        (parts / group).mkdir(exist_ok=True)
        (root / env).rename(parts / group / env)
    assert cli.main(["report", str(parts / "first"), str(parts / "second"), "--out", str(parts / "both")]) == 0
    for group in ("first", "second"):  # put back into one sweep, reported the usual way
        for env in (parts / group).iterdir():
            if env.is_dir():
                env.rename(root / env.name)
    summary.write(root)
    for name in ("summary.csv", "statistics.csv"):
        assert (parts / "both" / name).read_text() == (root / name).read_text(), name
    both = (parts / "both" / "summary.md").read_text()
    assert both.startswith("Runs read from `../first`, `../second` (paths from this folder).")
    assert both.split("\n\n", 1)[1] == (root / "summary.md").read_text()

    assert cli.main(["report", str(root), str(parts / "first")]) == 2  # two folders, no --out
    shutil.copytree(root / "EnvA-v0" / "ann" / "seed3", parts / "twice" / "seed3")
    with pytest.raises(ValueError, match="EnvA-v0 ann seed 3 is in two run folders"):
        summary.collect(root, parts / "twice")
