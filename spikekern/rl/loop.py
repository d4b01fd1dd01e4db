"""The training loop every algorithm shares, written once: the run folder (config.json,
progress.csv, TensorBoard), the progress bar, the epochs (evaluation, guards, checkpoint,
model.pt, learning curve), Ctrl-C/SIGTERM (a checkpoint, then the resume command) and the
wall time across resumes. Each algorithm's trainer (td3.py, dqn.py) subclasses Trainer and
keeps only its own step, update, evaluation and files readable in its module, as CleanRL
keeps each algorithm in one file.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import time
from pathlib import Path

import numpy as np

from .checkpoint import atomic_save
from .guards import check_parameters
from .logger import RunLogger, plot_curve
from .runtime import prepare


class Trainer:
    """Base of the trainers. A subclass names its algorithm (`algo`, its name in
    algorithms.py) and what its budget counts (`unit`: "step" or "frame"), and implements:

        step_once()                    act in the env(s), store, run the updates that are due
        postfix() -> dict | None       the progress bar's postfix after a step (None: keep it)
        agent_step() -> int            the env step the guards and checkpoints speak of
        guarded() -> nn.Module         checked for non-finite parameters before each save
        evaluate_epoch(progress)       the test returns of an evaluation
        epoch_row(returns, rate)       progress.csv's row, with the rate under "<unit>s_per_s"
                                       (the loop adds time_s)
        model_file() -> dict           model.pt: tensors and plain values only
        save()                         the checkpoint
    """

    algo = ""
    unit = "step"

    # ---------------------------------------------------------------- what the table says
    @functools.cached_property
    def spec(self):
        """This trainer's row of the algorithm table, looked up once (progress() reads it at
        every step)."""
        from .algorithms import get

        return get(self.algo)

    def progress(self) -> int:
        """How far the run is, in units of its budget."""
        return int(getattr(self, self.spec.column))

    def budget(self) -> int:
        return int(getattr(self.cfg, self.spec.budget_field))

    def label(self, between: str = " ") -> str:
        """'TD3 ilc-san Pendulum-v1' (between=" on ": 'TD3 ilc-san on Pendulum-v1')."""
        return f"{self.algo.upper()} {getattr(self.cfg, self.spec.agent_field)}{between}{self.cfg.env}"

    def position(self) -> str:
        """Where the run is, for messages: 'step 1200' (DQN: '4800 frames')."""
        return f"{self.unit} {self.progress()}" if self.unit == "step" else f"{self.progress()} {self.unit}s"

    # ---------------------------------------------------------------- the run folder
    def begin(self, cfg, run_dir) -> None:
        """The start of every trainer's __init__(cfg, run_dir, resume), where resume continues the
        run in run_dir from its checkpoint (True) or from that checkpoint already loaded (a dict):
        every check of the config (nothing is written before open_run), the device and threads."""
        self.cfg, self.run_dir = cfg, Path(run_dir)
        self.spec.validate(cfg)
        self.device = prepare(cfg)
        self.time_s = 0.0  # training wall time before this session (a resumed run adds to it)
        self.saved_step = None  # agent step of the newest checkpoint on disk

    def open_run(self, fields: list[str], resumed: bool, resume_step: int) -> None:
        """Create the run folder (only once every check has passed), write config.json for a new
        run, and open progress.csv and TensorBoard (a resumed run keeps its rows up to the
        checkpoint)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if not resumed:
            config = dict(algo=self.algo, **dataclasses.asdict(self.cfg))
            (self.run_dir / "config.json").write_text(json.dumps(config, indent=1))
        self.logger = RunLogger(self.run_dir, fields, resume_step=resume_step if resumed else None)
        self.t0 = time.perf_counter()

    def elapsed(self) -> float:
        """Training wall time of the whole run, across resumes."""
        return self.time_s + time.perf_counter() - self.t0

    def close(self) -> None:
        """End of training (DQN closes its vector envs)."""

    # ---------------------------------------------------------------- the loop
    def train(self, progress: bool = True) -> dict:
        from tqdm import tqdm

        self.t0 = t0 = time.perf_counter()
        count0, budget = self.progress(), self.budget()
        every = int(getattr(self.cfg, self.spec.epoch_field))
        next_epoch = (count0 // every + 1) * every
        bar = tqdm(total=budget, initial=count0, disable=not progress, unit=self.unit, desc=self.label(),
                   dynamic_ncols=True)
        result = {}
        try:
            while self.progress() < budget:
                before = self.progress()
                self.step_once()
                bar.update(self.progress() - before)
                postfix = self.postfix()
                if postfix is not None:
                    bar.set_postfix(**postfix, refresh=False)
                if self.progress() >= next_epoch or self.progress() >= budget:
                    next_epoch += every
                    result = self.end_epoch(t0, count0, progress)
                    bar.write(f"{self.position()}: test return {result['test_return']:.1f} "
                              f"+- {result['test_return_std']:.1f} ({result[f'{self.unit}s_per_s']:.0f} {self.unit}s/s)")
        except KeyboardInterrupt:
            bar.close()
            self.save()
            print(f"\ninterrupted at {self.position()}: checkpoint saved; continue with "
                  f"`spikekern train {self.algo} --resume {self.run_dir}`")
            raise
        bar.close()
        self.logger.close()
        self.close()
        return result

    def end_epoch(self, t0: float, count0: int, progress: bool = False) -> dict:
        """Evaluate, log a row, save the checkpoint and model.pt, redraw the curve. Parameters
        are checked first, so a diverged agent is never saved."""
        check_parameters(self.guarded(), self.agent_step(), self.saved_step)
        returns = self.evaluate_epoch(progress)
        rate = (self.progress() - count0) / (time.perf_counter() - t0)
        row = dict(self.epoch_row(returns, rate), time_s=self.elapsed())
        self.logger.row(row)
        self.save()
        atomic_save(dict(config=dataclasses.asdict(self.cfg), **self.model_file()), Path(self.run_dir) / "model.pt")
        plot_curve(self.run_dir, title=f"{self.label(' on ')} (seed {self.cfg.seed})")
        return row

    @staticmethod
    def test_stats(returns) -> dict:
        return dict(test_return=float(np.mean(returns)), test_return_std=float(np.std(returns)))
