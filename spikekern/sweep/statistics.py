"""The statistics `spikekern report` gives beside mean +- std, as RL results are reported
today (Agarwal et al., "Deep RL at the Edge of the Statistical Precipice", NeurIPS 2021),
computed with their package, rliable:

- per task (env) and agent: the interquartile mean (IQM) and the mean of the final and of the
  best evaluation, each with a 95% stratified-bootstrap interval over seeds;
- across tasks: the IQM and mean of scores normalised to the ANN baseline of the same sweep
  (the algorithm table's `baseline` agent: score / the baseline's mean on that task, the
  spiking-RL papers' "% of the ANN"), with intervals, and the probability that each agent
  improves on the baseline; and where random_scores.json has a uniformly random policy's
  return for every task, the same with random-to-ANN normalised scores, (score - random) /
  (baseline - random), as CMC-DSQN reports MinAtar (defined for negative returns too);
- intervals.png (the aggregate intervals) and profiles.png (performance profiles: the share of
  runs above each normalised score).

A task whose baseline mean is not positive (Pendulum's returns are negative) cannot be
normalised by a ratio and is left out of the aggregate, which says so. The bootstrap has a
fixed seed (BOOTSTRAP_SEED), so a report, its figures included, is the same every time it is
made.
"""
from __future__ import annotations

import contextlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

BOOTSTRAP_REPS = 5_000
# Fewer resamples for a quick look (the tests use it): the intervals' Monte Carlo error grows,
# the point estimates do not change.
REPS_ENV = "SPIKEKERN_BOOTSTRAP_REPS"
MIN_REPS = 100
# A uniformly random policy's mean return per env (benchmarks/random_scores.py writes it).
RANDOM_SCORES = Path(__file__).with_name("random_scores.json")
BOOTSTRAP_SEED = 0
KINDS = ("final", "best")  # which evaluation of each run is scored


def _rliable():
    try:
        from rliable import library as rly, metrics
    except ImportError as exc:
        raise ImportError("the report's statistics need rliable: pip install -e '.[sweep]'") from exc
    return rly, metrics


def bootstrap_reps() -> int:
    """The bootstrap's resamples: $SPIKEKERN_BOOTSTRAP_REPS if set (at least MIN_REPS), else
    BOOTSTRAP_REPS."""
    value = os.environ.get(REPS_ENV)
    if value is None:
        return BOOTSTRAP_REPS
    if not value.isdigit() or int(value) < MIN_REPS:
        raise ValueError(f"{REPS_ENV} must be a whole number of at least {MIN_REPS}, got {value!r}")
    return int(value)


def intervals(score_dict: dict[str, np.ndarray], func) -> dict[str, tuple[float, float, float]]:
    """name -> (point estimate, 95% low, 95% high) of func over [runs, tasks] score matrices,
    by stratified bootstrap over runs (seeds) within each task."""
    return _estimates(score_dict, func, bootstrap_reps())


@contextlib.contextmanager
def _seeded_bootstrap():
    """rliable's bootstraps draw their resamples from numpy's global generator (its
    random_state reaches only arch's base class, which it bypasses): seed that for the call
    and put the caller's state back, so a report (tables and figures) is the same every time."""
    saved = np.random.get_state()
    np.random.seed(BOOTSTRAP_SEED)
    try:
        with warnings.catch_warnings():  # arch deprecates the RandomState that rliable hands it
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        np.random.set_state(saved)


def _estimates(score_dict: dict, func, reps: int) -> dict[str, tuple[float, float, float]]:
    rly, _ = _rliable()
    with _seeded_bootstrap():
        points, cis = rly.get_interval_estimates(score_dict, func, reps=reps,
                                                 random_state=np.random.RandomState(BOOTSTRAP_SEED))
    return {k: (float(np.ravel(points[k])[0]), *(float(c) for c in np.ravel(cis[k]))) for k in score_dict}


def per_task(groups: dict) -> list[dict]:
    """One row per (env, agent): IQM and mean of the final and best returns, with intervals."""
    _, metrics = _rliable()
    rows = []
    for (env, agent), runs in groups.items():
        row = dict(env=env, agent=agent, seeds=len(runs))
        for kind in KINDS:
            scores = np.array([[getattr(r, kind)] for r in runs])
            for name, func in (("iqm", metrics.aggregate_iqm), ("mean", metrics.aggregate_mean)):
                point, lo, hi = intervals({"x": scores}, func)["x"]
                row.update({f"{kind}_{name}": point, f"{kind}_{name}_lo": lo, f"{kind}_{name}_hi": hi})
        rows.append(row)
    return rows


def random_scores() -> dict[str, float]:
    """env -> a random policy's mean return, from RANDOM_SCORES (empty where it is absent)."""
    if not RANDOM_SCORES.exists():
        return {}
    return {env: v["mean"] for env, v in json.loads(RANDOM_SCORES.read_text())["scores"].items()}


def share(score: float, baseline: float, zero: float = 0.0) -> float:
    """score normalised to the baseline: (score - zero) / (baseline - zero); zero is 0 (a ratio
    to the baseline) or a random policy's return (random-to-baseline)."""
    return (score - zero) / (baseline - zero)


def normalised(groups: dict, baseline: str, kind: str, random: dict[str, float] | None = None
               ) -> tuple[dict[str, np.ndarray], list[str], list[str]]:
    """agent -> [seeds, tasks] scores normalised per task, the tasks used, and the tasks left
    out. Without `random`: score / the baseline's mean (tasks whose baseline mean is not
    positive are left out). With it: (score - random) / (baseline mean - random) (tasks without
    a random score are left out). An agent's runs on each task are taken in seed order, as many
    as it has on every task."""
    envs = sorted({env for env, _ in groups})
    used, skipped, zero = [], [], {}
    for env in envs:
        base = groups.get((env, baseline))
        ref = np.mean([getattr(r, kind) for r in base]) if base else None
        if ref is not None and random is None and ref > 0:
            used.append(env)
            zero[env] = 0.0
        elif ref is not None and random is not None and env in random and ref != random[env]:
            used.append(env)
            zero[env] = random[env]
        else:
            skipped.append(env)
    scores = {}
    for agent in sorted({a for _, a in groups}):
        if used and all((env, agent) in groups for env in used):
            n = min(len(groups[(env, agent)]) for env in used)
            cols = []
            for env in used:
                ref = np.mean([getattr(r, kind) for r in groups[(env, baseline)]])
                cols.append([share(getattr(r, kind), ref, zero[env]) for r in groups[(env, agent)][:n]])
            scores[agent] = np.array(cols).T
    return scores, used, skipped


def aggregate(groups: dict, baseline: str, random: dict[str, float] | None = None) -> dict:
    """Per kind (final, best): the normalised aggregate IQM and mean of each agent with
    intervals, each agent's probability of improving on the baseline, and the tasks used
    (random: random-to-ANN normalised, see normalised())."""
    _, metrics = _rliable()
    out = {}
    for kind in KINDS:
        scores, used, skipped = normalised(groups, baseline, kind, random)
        entry = dict(tasks=used, skipped=skipped, scores=scores, iqm={}, mean={}, improvement={})
        if scores:
            entry["iqm"] = intervals(scores, metrics.aggregate_iqm)
            entry["mean"] = intervals(scores, metrics.aggregate_mean)
            pairs = {agent: [s, scores[baseline]] for agent, s in scores.items() if agent != baseline}
            if pairs:
                entry["improvement"] = _estimates(pairs, metrics.probability_of_improvement, bootstrap_reps() // 10)
        out[kind] = entry
    return out


def task_markdown(task_rows: list[dict]) -> str:
    lines = ["## IQM and mean with 95% stratified-bootstrap intervals over seeds", "",
             "| env | agent | seeds | final: IQM [95% CI] | final: mean [95% CI] | best: IQM [95% CI] | best: mean [95% CI] |",
             "|---|---|---:|---|---|---|---|"]
    cell = lambda r, k: f"{r[k]:.1f} [{r[k + '_lo']:.1f}, {r[k + '_hi']:.1f}]"  # noqa: E731
    for r in task_rows:
        lines.append(f"| {r['env']} | {r['agent']} | {r['seeds']} | {cell(r, 'final_iqm')} | {cell(r, 'final_mean')} | "
                     f"{cell(r, 'best_iqm')} | {cell(r, 'best_mean')} |")
    return "\n".join(lines) + "\n"


def aggregate_markdown(agg: dict, baseline: str, random: bool = False) -> str:
    """The across-task sections of one normalisation (ratio to the baseline, or random-to-ANN)."""
    how = (f"random-to-{baseline} normalised: (score - random) / ({baseline} - random)" if random
           else f"as a fraction of the {baseline} baseline (score / the baseline's mean on the task)")
    lines = []
    for kind in KINDS:
        a = agg[kind]
        lines += ["", f"## Across tasks, {kind} evaluation, {how}", ""]
        if not a["scores"]:
            lines.append("No task can be normalised this way (" + (
                "no random score for it in random_scores.json" if random else
                f"no positive mean return for the {baseline} baseline: a ratio to a negative return has no meaning")
                + ").")
            continue
        why = "no random score" if random else f"no positive {baseline} mean"
        lines.append(f"Tasks: {', '.join(a['tasks'])}" + (f"; left out ({why}): {', '.join(a['skipped'])}"
                                                          if a["skipped"] else "") + ".")
        lines += ["", f"| agent | IQM [95% CI] | mean [95% CI] | P(improves on {baseline}) [95% CI] |",
                  "|---|---|---|---|"]
        for agent in a["scores"]:
            iqm, mean = a["iqm"][agent], a["mean"][agent]
            poi = a["improvement"].get(agent)
            lines.append(f"| {agent} | {iqm[0]:.2f} [{iqm[1]:.2f}, {iqm[2]:.2f}] | {mean[0]:.2f} [{mean[1]:.2f}, "
                         f"{mean[2]:.2f}] | " + (f"{poi[0]:.2f} [{poi[1]:.2f}, {poi[2]:.2f}]" if poi else "-") + " |")
    return "\n".join(lines) + "\n"


def plots(agg: dict, out_dir: Path, prefix: str = "", label: str = "fraction of the baseline mean") -> list[Path]:
    """intervals_<kind>.png and profiles_<kind>.png of the normalised scores (final, best)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.lines import Line2D
    from rliable import library as rly, plot_utils

    paths = []
    for kind in KINDS:
        a = agg[kind]
        if not a["scores"]:
            continue
        agents = list(a["scores"])
        colors = dict(zip(agents, sns.color_palette("colorblind", len(agents))))
        points = {k: np.array([a["iqm"][k][0], a["mean"][k][0]]) for k in agents}
        cis = {k: np.array([[a["iqm"][k][1], a["mean"][k][1]], [a["iqm"][k][2], a["mean"][k][2]]]) for k in agents}
        fig, _ = plot_utils.plot_interval_estimates(points, cis, metric_names=["IQM", "Mean"], algorithms=agents,
                                                    colors=colors, xlabel=f"{kind} return, {label}",
                                                    xlabel_y_coordinate=-1.0 / len(agents))  # below the ticks
        paths.append(save_figure(fig, Path(out_dir) / f"{prefix}intervals_{kind}.png", bbox_inches="tight"))
        hi = max(float(s.max()) for s in a["scores"].values())
        taus = np.linspace(0.0, max(1.5, hi * 1.05), 61)
        with _seeded_bootstrap():
            profiles, profile_cis = rly.create_performance_profile(a["scores"], taus, reps=bootstrap_reps() // 10)
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        plot_utils.plot_performance_profiles(profiles, taus, performance_profile_cis=profile_cis, ax=ax, colors=colors,
                                             xlabel=fr"{kind} return, {label} ($\tau$)")
        ax.legend([Line2D([], [], color=colors[k]) for k in agents], agents, loc="upper right")
        fig.tight_layout()
        paths.append(save_figure(fig, Path(out_dir) / f"{prefix}profiles_{kind}.png"))
    return paths


def save_figure(fig, path: Path, **kwargs) -> Path:
    """Write a report figure and free it."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=110, **kwargs)
    plt.close(fig)
    return path
