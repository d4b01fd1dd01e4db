"""The grid of a sweep: one trial per (env, agent, seed), each a `spikekern train` run in
its own folder `OUT/<env>/<agent>/seed<k>/`."""
from __future__ import annotations

import csv
import dataclasses
import importlib
from dataclasses import dataclass
from pathlib import Path

from ..rl import runtime

# Per algorithm: the trainer module, the config field naming the agent, the budget field and
# the progress.csv column that the budget counts.
ALGOS = {
    "td3": dict(module="spikekern.rl.td3", config="TD3Config", agent="actor", budget="steps", column="step"),
    "dqn": dict(module="spikekern.rl.dqn", config="DQNConfig", agent="model", budget="frames", column="frames"),
}


def trainer_module(algo: str):
    return importlib.import_module(ALGOS[algo]["module"])


def config_class(algo: str):
    return getattr(trainer_module(algo), ALGOS[algo]["config"])


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
        return self.config[ALGOS[self.algo]["agent"]]

    @property
    def name(self) -> str:
        return f"{self.config['env']}/{self.agent}/seed{self.config['seed']}"

    def make_config(self):
        return runtime.config_from_dict(config_class(self.algo), self.config)


def make_trials(algo: str, envs: list[str], agents: list[str], seeds: list[int], given: dict, out: Path) -> list[Trial]:
    """Every combination of envs x agents x seeds, with the other options (`given`) applied to
    each; configs built exactly as `spikekern train` builds them (DQN presets per env)."""
    cls, agent_field = config_class(algo), ALGOS[algo]["agent"]
    trials = []
    for env in envs:
        for agent in agents:
            for seed in seeds:
                options = dict(given, env=env, seed=seed, **{agent_field: agent})
                cfg = runtime.make_config(cls, options)
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
            trainer_module(t.algo).validate(t.make_config())


def finished(trial: Trial) -> bool:
    """The run reached its budget: its progress.csv has a row at (or past) the budget, and
    the agent was saved."""
    run_dir = Path(trial.run_dir)
    spec = ALGOS[trial.algo]
    if not (run_dir / "model.pt").exists() or not (run_dir / "progress.csv").exists():
        return False
    with open(run_dir / "progress.csv", newline="") as f:
        done = [int(float(r[spec["column"]])) for r in csv.DictReader(f)]
    return bool(done) and max(done) >= trial.config[spec["budget"]]
