"""The grid of a sweep: one trial per (env, agent, seed), each a `spikekern train` run in
its own folder `OUT/<env>/<agent>/seed<k>/`."""
from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ..rl.algorithms import get


def env_dirname(env: str) -> str:
    """A folder name for an env id ('MinAtar/Breakout-v1' -> 'MinAtar_Breakout-v1')."""
    return env.replace("/", "_")


@dataclass(frozen=True)
class Trial:
    algo: str
    config: dict          # the trial's full trainer config (dataclasses.asdict)
    given: dict           # the options the user gave: a resumed trial applies them on top of its saved config
    run_dir: str

    @property
    def agent(self) -> str:
        return self.config[get(self.algo).agent_field]

    @property
    def name(self) -> str:
        return f"{self.config['env']}/{self.agent}/seed{self.config['seed']}"

    def make_config(self):
        return get(self.algo).config_from_dict(self.config)


def make_trials(algo: str, envs: list[str], agents: list[str], seeds: list[int], given: dict, out: Path) -> list[Trial]:
    """Every combination of envs x agents x seeds, with the other options (`given`) applied to
    each; configs built exactly as `spikekern train` builds them (DQN presets per env)."""
    spec = get(algo)
    trials = []
    for env in envs:
        for agent in agents:
            for seed in seeds:
                options = dict(given, env=env, seed=seed, **{spec.agent_field: agent})
                cfg = spec.make_config(options)
                run_dir = Path(out) / env_dirname(env) / agent / f"seed{seed}"
                trials.append(Trial(algo, dataclasses.asdict(cfg), options, str(run_dir)))
    return trials


def validate(trials: list[Trial]) -> None:
    """The trainer's own checks (env, backend, agent) for each distinct (env, agent) of the
    grid: the first bad entry raises the same error `spikekern train` gives."""
    seen = set()
    for t in trials:
        key = (t.config["env"], t.agent)
        if key not in seen:
            seen.add(key)
            get(t.algo).validate(t.make_config())


def finished(trial: Trial) -> bool:
    """The run reached its budget: its progress.csv has a row at (or past) the budget, and
    the agent was saved."""
    run_dir = Path(trial.run_dir)
    spec = get(trial.algo)
    if not (run_dir / "model.pt").exists() or not (run_dir / "progress.csv").exists():
        return False
    with open(run_dir / "progress.csv", newline="") as f:
        done = [int(float(r[spec.column])) for r in csv.DictReader(f)]
    return bool(done) and max(done) >= trial.config[spec.budget_field]
