"""The table of algorithms: what `spikekern train`, `spikekern sweep`, `spikekern report`
and `load_agent` know about each one, in one place.

An algorithm is one module of this package (td3.py, dqn.py) that ends with
`ALGORITHM = Algorithm(...)`: its config dataclass, its trainer (a loop.Trainer), the config
fields naming the agent and the budget, and how a saved agent is rebuilt, acts and is
evaluated. Adding an algorithm is its module plus its name in BUILTIN below;
`register(Algorithm(...))` adds one at run time (the tests do, with a toy algorithm).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from . import runtime

# The algorithms every `spikekern` command offers, by module, in the order they are listed.
BUILTIN = ("spikekern.rl.td3", "spikekern.rl.dqn")

_registered: dict[str, "Algorithm"] = {}


@dataclass(frozen=True)
class Algorithm:
    name: str                # `spikekern train NAME`, config.json's "algo"
    help: str                # one line in `spikekern train --help`
    description: str         # the top of `spikekern train NAME --help`
    config_cls: type         # the dataclass of every option (rl/options.py)
    trainer_cls: type        # a loop.Trainer subclass: Trainer(cfg, run_dir, resume, seeds)
    agent_field: str         # the config field choosing the agent (a sweep's agent axis)
    budget_field: str        # the config field of the run's length
    epoch_field: str         # the config field of the interval between evaluations
    column: str              # progress.csv's column (and the trainer's attribute) the budget counts
    validate: Callable[[Any], None]             # every check a run makes before writing anything
    load_net: Callable[[Any, dict], tuple]      # (config, model.pt) -> (network, observation shape)
    act: Callable[[Any, Any], Any]              # (network, batch of observations) -> batch of actions
    evaluate: Callable[..., list]               # (network, config, episodes, seed, device, video_dir, progress)
    discrete: bool = False                      # actions are integers
    # network -> (the module whose spiking layers and outputs rl/activity.py records, the
    # bound of its actions or None for discrete ones); None: nothing is recorded
    acting: Callable[[Any], tuple] | None = None
    baseline: str = ""                          # the ANN agent spiking agents are reported against
    time_steps_field: str = ""                  # the config field of the spiking networks' time steps T
    # An agent of a sweep and a report can be more than the agent field's value: a method
    # variant (TD3's "ilc-san+proxy" is the ILC-SAN actor with --proxy-target).
    variants: tuple = ()                        # the variant names, for --help
    label: Callable[[dict], str] | None = None  # config (as a dict) -> its agent's name; None: the agent field
    variant_options: Callable[[str], dict] | None = None  # agent name -> the options it sets; None: the agent field

    def agent_of(self, config: dict) -> str:
        """The name a sweep's folders and a report's rows give the agent of this config."""
        return self.label(config) if self.label else config[self.agent_field]

    def agent_options(self, agent: str) -> dict:
        """The config options that make `agent` (an agent field value or a variant name)."""
        return self.variant_options(agent) if self.variant_options else {self.agent_field: agent}

    def config_from_dict(self, d: dict):
        return runtime.config_from_dict(self.config_cls, d)

    def make_config(self, given: dict):
        return runtime.make_config(self.config_cls, given)

    def run(self, cfg, out: Path, resume: bool = False, progress: bool = True, overrides: dict | None = None,
            on_start=None, seeds=None) -> dict:
        """Train (or, with resume, continue the run in `out` with its saved config). seeds: several
        seeds in one process, one folder each under `out` (trainers with several_seeds)."""
        return runtime.run_trainer(self.trainer_cls, self.config_cls, cfg, out, resume, progress, overrides, on_start,
                                   seeds)


def register(algorithm: Algorithm) -> None:
    _registered[algorithm.name] = algorithm


def algorithms() -> dict[str, Algorithm]:
    """Every algorithm by name: the built-in ones, then any registered at run time."""
    table = {}
    for module in BUILTIN:
        algorithm = importlib.import_module(module).ALGORITHM
        table[algorithm.name] = algorithm
    table.update(_registered)
    return table


def get(name: str) -> Algorithm:
    table = algorithms()
    if name not in table:
        raise ValueError(f"unknown algorithm {name!r}; choose one of {list(table)}")
    return table[name]
