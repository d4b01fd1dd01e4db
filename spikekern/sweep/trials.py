"""The grid of a sweep: one trial per (env, agent, seed), each a `spikekern train` run in
its own folder `OUT/<env>/<agent>/seed<k>/`; with `--seeds-per-trial K`, one trial per
(env, agent, group of K seeds), a `spikekern train --seeds` run in
`OUT/<env>/<agent>/seeds-<a>-<b>-.../`, each seed in its own `seed<k>/` folder inside."""
from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ..rl.algorithms import get
from ..rl.runtime import seed_dir


def env_dirname(env: str) -> str:
    """A folder name for an env id ('MinAtar/Breakout-v1' -> 'MinAtar_Breakout-v1')."""
    return env.replace("/", "_")


@dataclass(frozen=True)
class Trial:
    algo: str
    config: dict          # the trial's full trainer config (dataclasses.asdict; several seeds: the first's)
    given: dict           # the options the user gave: a resumed trial applies them on top of its saved config
    run_dir: str
    seeds: list | None = None  # several seeds trained in one process (None: config's seed alone)

    @property
    def agent(self) -> str:
        return get(self.algo).agent_of(self.config)

    @property
    def name(self) -> str:
        seeds = f"seed{self.config['seed']}" if not self.seeds else "seeds " + " ".join(map(str, self.seeds))
        return f"{self.config['env']}/{self.agent}/{seeds}"

    def run_dirs(self) -> list[Path]:
        """The folder of each seed's run."""
        if not self.seeds:
            return [Path(self.run_dir)]
        return [seed_dir(self.run_dir, s) for s in self.seeds]

    def make_config(self):
        return get(self.algo).config_from_dict(self.config)


def make_trials(algo: str, envs: list[str], agents: list[str], seeds: list[int], given: dict, out: Path,
                seeds_per_trial: int = 1) -> list[Trial]:
    """Every combination of envs x agents x seeds, with the other options (`given`) applied to
    each; configs built exactly as `spikekern train` builds them (DQN presets per env).
    seeds_per_trial K > 1: the seeds of each (env, agent) in groups of K (the last may be
    smaller), each group one trial that trains its seeds in one process."""
    if seeds_per_trial < 1:
        raise ValueError(f"--seeds-per-trial must be at least 1, got {seeds_per_trial}")
    if seeds_per_trial > 1 and not get(algo).trainer_cls.several_seeds:
        raise ValueError(f"--seeds-per-trial: {algo} does not train several seeds in one process yet")
    spec = get(algo)
    groups = [seeds[i:i + seeds_per_trial] for i in range(0, len(seeds), seeds_per_trial)]
    trials = []
    for env in envs:
        for agent in agents:
            for group in groups:
                options = dict(given, env=env, seed=group[0], **spec.agent_options(agent))
                cfg = spec.make_config(options)
                folder = f"seed{group[0]}" if len(group) == 1 else "seeds-" + "-".join(map(str, group))
                run_dir = Path(out) / env_dirname(env) / spec.agent_of(dataclasses.asdict(cfg)) / folder
                trials.append(Trial(algo, dataclasses.asdict(cfg), options, str(run_dir),
                                    list(group) if len(group) > 1 else None))
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
    """The run reached its budget: for each seed, its progress.csv has a row at (or past) the
    budget, and the agent was saved."""
    spec = get(trial.algo)
    for run_dir in trial.run_dirs():
        if not (run_dir / "model.pt").exists() or not (run_dir / "progress.csv").exists():
            return False
        with open(run_dir / "progress.csv", newline="") as f:
            done = [int(float(r[spec.column])) for r in csv.DictReader(f)]
        if not done or max(done) < trial.config[spec.budget_field]:
            return False
    return True
