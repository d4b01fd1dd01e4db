"""Adding an algorithm is its module plus one line in the table (spikekern/rl/algorithms.py):
a toy algorithm registered here at run time appears in `spikekern train --help` and
`spikekern sweep`, trains through the shared loop (rl/loop.py: run folder, epochs, model.pt,
checkpoint, resume), and loads with load_agent, with no other code knowing its name."""
import csv
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from spikekern import cli
from spikekern._backend import BACKENDS
from spikekern.rl import algorithms, load_agent
from spikekern.rl.algorithms import Algorithm
from spikekern.rl.checkpoint import load_checkpoint, save_checkpoint
from spikekern.rl.loop import Trainer
from spikekern.rl.options import check, option
from spikekern.sweep import summary, trials


@dataclass
class ToyConfig:
    env: str = option("Toy-v0", "the (pretend) environment")
    agent: str = option("const", "the agent", choices=("const", "twice"))
    seed: int = option(0, "seed", low=0)
    steps: int = option(30, "total steps", low=1)
    epoch_steps: int = option(10, "steps between evaluations", low=1)
    value: float = option(1.5, "the action the agent always takes")
    backend: str = option("auto", "neuron backend", choices=BACKENDS)
    threads: int = option(0, "torch threads", low=0)


class ToyNet(torch.nn.Module):
    def __init__(self, value: float):
        super().__init__()
        self.value = torch.nn.Parameter(torch.tensor(float(value)))


class ToyTrainer(Trainer):
    algo = "toy"

    def __init__(self, cfg: ToyConfig, run_dir: Path, resume=False, seeds=None):
        self.init_runs(cfg, run_dir, seeds)
        self.step = 0
        self.net = ToyNet(cfg.value * (2 if cfg.agent == "twice" else 1))
        if resume:
            st = resume if isinstance(resume, dict) else load_checkpoint(self.run_dir)
            self.step, self.time_s = st["step"], st["time_s"]
            self.net.load_state_dict(st["net"])
        self.open_run(["step", "test_return", "test_return_std", "steps_per_s", "time_s"], bool(resume), self.step)

    def step_once(self):
        self.step += 1

    def postfix(self):
        return None

    def agent_step(self):
        return self.step

    def guarded(self):
        return self.net

    def evaluate_epoch(self, k=0, progress=False, lengths=None):
        lengths.extend([7] * 3)
        return [float(self.net.value.detach())] * 3

    def epoch_row(self, k, returns, rate):
        return dict(step=self.step, **self.test_stats(returns), steps_per_s=rate)

    def model_file(self, k=0):
        return dict(net=self.net.state_dict())

    def save(self):
        save_checkpoint(dict(config=dataclasses.asdict(self.cfg), step=self.step, time_s=self.elapsed(),
                             net=self.net.state_dict()), self.run_dir)
        self.saved_step = self.step


def _load_net(cfg, st):
    net = ToyNet(0.0)
    net.load_state_dict(st["net"])
    return net, (3,)


TOY = Algorithm(
    name="toy", help="a toy algorithm of the tests", description="", config_cls=ToyConfig, trainer_cls=ToyTrainer,
    agent_field="agent", budget_field="steps", epoch_field="epoch_steps", column="step", validate=check,
    load_net=_load_net, act=lambda net, obs: torch.zeros(obs.shape[0], 1) + net.value,
    evaluate=lambda net, cfg, episodes, seed, device, video_dir=None, progress=False: [float(net.value.detach())] * episodes)


@pytest.fixture
def toy():
    algorithms.register(TOY)
    yield TOY
    algorithms._registered.pop("toy")


def _help(capsys, argv) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_the_builtin_algorithms_are_in_the_table():
    assert list(algorithms.algorithms())[:2] == ["td3", "dqn"]
    with pytest.raises(ValueError, match="unknown algorithm 'nope'"):
        algorithms.get("nope")


def test_a_registered_algorithm_appears_in_every_command(toy, capsys, tmp_path):
    assert "a toy algorithm of the tests" in _help(capsys, ["train", "--help"])
    assert "--value" in _help(capsys, ["train", "toy", "--help"])
    assert "toy" in _help(capsys, ["sweep", "--help"])
    assert "--agent" in _help(capsys, ["sweep", "toy", "--help"])

    # Trains through the shared loop: two evaluations, model.pt, a checkpoint.
    run = tmp_path / "Toy-v0" / "twice" / "seed0"
    assert cli.main(["train", "toy", "--agent", "twice", "--steps", "20", "--out", str(run), "--no-progress"]) == 0
    with open(run / "progress.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [10, 20]
    assert float(rows[-1]["test_return"]) == 3.0
    assert float(rows[-1]["test_length"]) == 7.0  # the loop's mean of the lengths evaluate_epoch gave

    # ... resumes with more steps ...
    assert cli.main(["train", "toy", "--resume", str(run), "--steps", "30", "--no-progress"]) == 0
    with open(run / "progress.csv", newline="") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [10, 20, 30]

    # ... refuses several seeds in one process, which this trainer does not declare ...
    assert cli.main(["train", "toy", "--seeds", "0", "1", "--out", str(tmp_path / "two"), "--no-progress"]) == 2
    assert "toy does not train several seeds in one process" in capsys.readouterr().err
    assert not (tmp_path / "two").exists()

    # ... loads as an agent ...
    policy = load_agent(run)
    assert policy.algo == "toy"
    assert np.allclose(policy.act(np.zeros(3, np.float32)), [3.0])
    assert policy.evaluate(episodes=2) == [3.0, 3.0]

    # ... and the sweep's grid and report know it.
    grid = trials.make_trials("toy", ["Toy-v0"], ["const", "twice"], [0], dict(steps=30), tmp_path)
    trials.validate(grid)
    assert [t.agent for t in grid] == ["const", "twice"]
    assert [trials.finished(t) for t in grid] == [False, True]
    assert [(r.algo, r.agent) for r in summary.collect(tmp_path)] == [("toy", "twice")]
