"""The training loop every algorithm shares, written once: the run folder (config.json,
progress.csv, TensorBoard), the progress bar, the epochs (evaluation, guards, checkpoint,
model.pt, learning curve), Ctrl-C/SIGTERM (a checkpoint, then the resume command) and the
wall time across resumes. Each algorithm's trainer (td3.py, dqn.py) subclasses Trainer and
keeps only its own step, update, evaluation and files readable in its module, as CleanRL
keeps each algorithm in one file.

A trainer may run several seeds in one process (`--seeds 0 1 2`, where the algorithm
supports it): each seed is a SeedRun with its own folder (OUT/seed<k>/), exactly what a
single run of that seed writes, so eval, load_agent, report and --resume of that folder work
as for any run. OUT/seeds.json names the group, and --resume OUT continues every seed. A seed
whose training diverges stops alone: its folder keeps its last good checkpoint and gains
diverged.txt saying why, and the others go on.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import activity, provenance
from .checkpoint import atomic_save, load_checkpoint, save_checkpoint, signals_held
from .guards import DivergedError, check_loss, check_parameters
from .logger import RunLogger, plot_curve
from .runtime import GROUP, prepare, seed_dir

DIVERGED = "diverged.txt"  # in a seed's folder: why that seed stopped while the others went on


def mean_finite(values) -> float:
    """The mean of the finite values (the seeds' last returns; NaN before any episode ended)."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


@dataclass
class SeedRun:
    """One seed's run: its config (with its seed), its folder and log, its newest checkpoint."""
    seed: int
    cfg: object
    run_dir: Path
    logger: RunLogger | None = None
    saved_step: int | None = None  # agent step of the newest checkpoint on disk
    diverged: str | None = None    # why it stopped, if it did


class Trainer:
    """Base of the trainers. A subclass names its algorithm (`algo`, its name in
    algorithms.py), what its budget counts (`unit`: "step" or "frame") and whether it trains
    several seeds in one process (`several_seeds`), and implements (k: a seed's index in
    self.runs, 0 for a single run):

        step_once()                    act in the env(s), store, run the updates that are due
        postfix() -> dict | None       the progress bar's postfix after a step (None: keep it)
        agent_step() -> int            the env step the guards and checkpoints speak of
        guard_epoch()                  check the parameters before anything is saved (default:
                                       check_parameters(guarded()) for a single run)
        evaluate_epoch(k, progress, lengths)
                                       the test returns of an evaluation, each episode's
                                       length (env or agent steps) appended to `lengths`
        epoch_row(k, returns, rate)    progress.csv's row, with the rate under "<unit>s_per_s"
                                       (the loop adds time_s)
        model_file(k) -> dict          model.pt: tensors and plain values only
        save()                         the checkpoints of the seeds still training (default:
                                       save_checkpoint(_state(k)) for each)

    A trainer whose algorithm names `acting` keeps `single`, the network its evaluations run:
    each evaluation then records its spiking layers and actions (rl/activity.py) into
    progress.csv's last columns.
    """

    algo = ""
    unit = "step"
    several_seeds = False

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

    def label(self, between: str = " ", group: bool = True) -> str:
        """'TD3 ilc-san Pendulum-v1' (between=" on ": 'TD3 ilc-san on Pendulum-v1'; several seeds,
        unless group=False: '... (8 seeds)')."""
        several = f" ({len(self.runs)} seeds)" if group and len(self.runs) > 1 else ""
        return f"{self.algo.upper()} {getattr(self.cfg, self.spec.agent_field)}{between}{self.cfg.env}{several}"

    def position(self) -> str:
        """Where the run is, for messages: 'step 1200' (DQN: '4800 frames')."""
        return f"{self.unit} {self.progress()}" if self.unit == "step" else f"{self.progress()} {self.unit}s"

    # ---------------------------------------------------------------- the run folder(s)
    def begin(self, cfg, run_dir, seeds=None) -> None:
        """The start of every trainer's __init__(cfg, run_dir, resume, seeds), where resume
        continues the run in run_dir from its checkpoint (True) or from that checkpoint already
        loaded (a dict; several seeds: a list of them, in the order of seeds): every check of
        the config (nothing is written before open_run), the device and threads. seeds: train
        these seeds in one process (None or one seed: cfg.seed, or that seed, in run_dir itself)."""
        self.init_runs(cfg, run_dir, seeds)
        self.spec.validate(cfg)
        self.device = prepare(cfg)

    def init_runs(self, cfg, run_dir, seeds=None) -> None:
        """self.runs, one SeedRun per seed (no checks of the config: begin() makes them)."""
        seeds = [cfg.seed] if seeds is None else [int(s) for s in seeds]
        if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
            raise ValueError(f"--seeds must be distinct non-negative integers, got {seeds}")
        if len(seeds) > 1 and not self.several_seeds:
            raise ValueError(f"{self.algo} does not train several seeds in one process yet: run one "
                             f"`spikekern train {self.algo} --seed S` per seed (or `spikekern sweep`)")
        self.cfg = dataclasses.replace(cfg, seed=seeds[0])
        self.group_dir = Path(run_dir)
        self.runs = [SeedRun(s, dataclasses.replace(cfg, seed=s),
                             self.group_dir if len(seeds) == 1 else seed_dir(self.group_dir, s)) for s in seeds]
        self.time_s = 0.0  # training wall time before this session (a resumed run adds to it)

    # A single run's folder, log and newest checkpoint (the only SeedRun).
    run_dir = property(lambda self: self.runs[0].run_dir)
    logger = property(lambda self: self.runs[0].logger)
    saved_step = property(lambda self: self.runs[0].saved_step,
                          lambda self, step: setattr(self.runs[0], "saved_step", step))

    def alive(self) -> list[tuple[int, SeedRun]]:
        """(index, run) of the seeds still training."""
        return [(k, run) for k, run in enumerate(self.runs) if run.diverged is None]

    def activity_target(self) -> tuple | None:
        """(module, action bound) an evaluation's Activity records, or None."""
        return None if self.spec.acting is None else self.spec.acting(self.single)

    def open_run(self, fields: list[str], resumed: bool, resume_step: int) -> None:
        """Create the run folder(s) (only once every check has passed), write config.json for a
        new run, and open progress.csv (`fields`, then test_length and the activity columns)
        and TensorBoard (a resumed run keeps its rows up to the checkpoint)."""
        target = self.activity_target()
        fields = [*fields, "test_length", *(activity.fields(*target) if target else [])]
        if len(self.runs) > 1:
            self.group_dir.mkdir(parents=True, exist_ok=True)
            (self.group_dir / GROUP).write_text(json.dumps(
                dict(algo=self.algo, seeds=[r.seed for r in self.runs]), indent=1))
        info = provenance.software()
        for run in self.runs:
            run.run_dir.mkdir(parents=True, exist_ok=True)
            if not resumed:
                config = dict(algo=self.algo, **dataclasses.asdict(run.cfg))
                (run.run_dir / "config.json").write_text(json.dumps(config, indent=1))
            provenance.record(run.run_dir, resume_step if resumed else 0, info)
            (run.run_dir / DIVERGED).unlink(missing_ok=True)  # a resumed seed trains again
            run.logger = RunLogger(run.run_dir, fields, resume_step=resume_step if resumed else None)
        self.t0 = time.perf_counter()

    def diverge(self, k: int, error: DivergedError) -> None:
        """Seed k's training diverged: a single run stops with the error; of several seeds, that
        one stops (its folder says why) and the others go on."""
        run = self.runs[k]
        if len(self.runs) == 1:
            raise error
        run.diverged = str(error)
        (run.run_dir / DIVERGED).write_text(f"seed {run.seed}: {error}\n")
        from tqdm import tqdm

        tqdm.write(f"seed {run.seed} stopped: {error}; the other seeds go on")
        if not self.alive():
            raise DivergedError(f"every seed diverged: {self._diverged_list()}")

    def resume_states(self, resume) -> list[dict]:
        """The checkpoints to resume from, one per seed, from __init__'s `resume`: True (the
        single run's checkpoint on disk), a loaded checkpoint, or a list of them."""
        states = resume if isinstance(resume, (dict, list)) else load_checkpoint(self.run_dir)
        return states if isinstance(states, list) else [states]

    def save(self) -> None:
        """Each seed still training writes its checkpoint, self._state(k) (a single run's); an
        interrupt meanwhile waits until every seed has saved, so the group stays in step."""
        with signals_held():
            for k, run in self.alive():
                save_checkpoint(self._state(k), run.run_dir)
                run.saved_step = self.agent_step()

    def check_lockstep(self, states: list[dict], *counters: str) -> None:
        """The seeds' checkpoints (to resume together) must be at the same point of training."""
        at = {tuple(st[c] for c in counters) for st in states}
        if len(at) != 1:
            raise ValueError(f"the seeds' checkpoints are at different steps ({sorted(at)}): resume each seed's "
                             f"folder on its own (spikekern train {self.algo} --resume {self.runs[0].run_dir})")

    def checked(self, name: str, losses: torch.Tensor) -> torch.Tensor:
        """The sum of the seeds' losses [K] to step on, after one look at their values: a seed
        whose loss is not finite stops (diverge) and adds nothing from then on. As each seed's
        parameters enter only its own loss, the sum gives each seed its single-run gradient."""
        values = losses.detach().cpu().tolist()
        for k, run in self.alive():
            try:
                check_loss(name, values[k], self.agent_step(), run.saved_step)
            except DivergedError as exc:
                self.diverge(k, exc)
        if len(self.alive()) == len(self.runs):
            return losses.sum()
        mask = torch.tensor([run.diverged is None for run in self.runs], device=losses.device)
        return torch.where(mask, losses, torch.zeros_like(losses)).sum()

    def check_seeds_finite(self, modules: list, single) -> None:
        """Each seed's part of the stacked `modules` must hold finite values before it is saved;
        a seed whose part does not stops, with the guard's message naming the parameter of
        single(k) (seed k's weights as a single module)."""
        K = len(self.runs)
        finite = torch.stack([torch.isfinite(t).reshape(K, -1).all(1) for m in modules
                              for t in m.state_dict().values() if t.is_floating_point()]).all(0).tolist()
        for k, run in self.alive():
            if not finite[k]:
                try:
                    check_parameters(single(k), self.agent_step(), run.saved_step)
                except DivergedError as exc:
                    self.diverge(k, exc)

    def _diverged_list(self) -> str:
        return "; ".join(f"seed {r.seed}: {r.diverged}" for r in self.runs if r.diverged)

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
        # Checkpoints between epochs, every checkpoint_minutes of wall time: an epoch of a big
        # model can take hours, and a SIGKILL (no chance to save) would lose all of it.
        timed = 60.0 * float(getattr(self.cfg, "checkpoint_minutes", 0.0))
        saved_at = time.perf_counter()
        bar = tqdm(total=budget, initial=count0, disable=not progress, unit=self.unit, desc=self.label(),
                   dynamic_ncols=True)
        result = {}
        try:
            while self.progress() < budget and self.alive():
                before = self.progress()
                self.step_once()
                bar.update(self.progress() - before)
                postfix = self.postfix()
                if postfix is not None:
                    bar.set_postfix(**postfix, refresh=False)
                if self.progress() >= next_epoch or self.progress() >= budget:
                    next_epoch += every
                    rows = self.end_epoch(t0, count0, progress)
                    result = rows[0] if len(self.runs) == 1 else dict(seeds=rows)
                    bar.write(self._epoch_line(rows))
                    saved_at = time.perf_counter()
                elif timed and time.perf_counter() - saved_at >= timed:
                    self.guard_epoch()  # as at an epoch's end: a diverged agent is never saved
                    self.save()
                    saved_at = time.perf_counter()
        except (KeyboardInterrupt, RuntimeError) as exc:
            # Ctrl-C or SIGTERM; Python 3.11 hands an interrupt that lands inside a class
            # definition (a module imported lazily, e.g. by the first learning curve) on as a
            # RuntimeError caused by it. (An interrupt inside a checkpoint's torch.save cannot
            # happen: saves hold it until they are done, checkpoint.signals_held.)
            if not isinstance(exc, KeyboardInterrupt) and not isinstance(exc.__cause__, KeyboardInterrupt):
                raise
            bar.close()
            self.save()
            print(f"\ninterrupted at {self.position()}: checkpoint saved; continue with "
                  f"`spikekern train {self.algo} --resume {self.group_dir}`")
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise KeyboardInterrupt from exc
        bar.close()
        for run in self.runs:
            run.logger.close()
        self.close()
        if any(run.diverged for run in self.runs):
            raise DivergedError(f"{self._diverged_list()} (the other seeds finished)")
        return result

    def _epoch_line(self, rows: dict) -> str:
        rate = f"{next(iter(rows.values()))[f'{self.unit}s_per_s']:.0f} {self.unit}s/s"
        if len(self.runs) == 1:
            r = rows[0]
            return f"{self.position()}: test return {r['test_return']:.1f} +- {r['test_return_std']:.1f} ({rate})"
        means = [r["test_return"] for r in rows.values()]
        return (f"{self.position()}: test return over {len(means)} seeds {np.mean(means):.1f} "
                f"(min {min(means):.1f}, max {max(means):.1f}; {rate} per seed)")

    def guard_epoch(self) -> None:
        """Check the parameters before anything is saved, so a diverged agent never is."""
        check_parameters(self.guarded(), self.agent_step(), self.saved_step)

    def end_epoch(self, t0: float, count0: int, progress: bool = False) -> dict:
        """Per seed still training: evaluate, log a row, save the checkpoint and model.pt, redraw
        the curve. Parameters are checked first, so a diverged agent is never saved. Returns the
        rows by seed index."""
        self.guard_epoch()
        returns, activities = {}, {}
        for k, _ in self.alive():
            returns[k], activities[k] = self._evaluate_recorded(k, progress)
        rate = (self.progress() - count0) / (time.perf_counter() - t0)
        rows = {}
        for k, run in self.alive():
            rows[k] = dict(self.epoch_row(k, returns[k], rate), time_s=self.elapsed(), **activities[k])
            run.logger.row(rows[k])
        self.save()
        for k, run in self.alive():
            atomic_save(dict(config=dataclasses.asdict(run.cfg), **self.model_file(k)), run.run_dir / "model.pt")
            # Held: the first curve imports matplotlib, whose import of mpl_toolkits.mplot3d sits
            # in an `except Exception`, and Python 3.11 turns an interrupt landing in a class
            # body into a RuntimeError: caught there, a Ctrl-C or a sweep's stop was lost.
            with signals_held():
                plot_curve(run.run_dir, title=f"{self.label(' on ', group=False)} (seed {run.seed})")
        return rows

    def _evaluate_recorded(self, k: int, progress: bool) -> tuple[list[float], dict]:
        """evaluate_epoch(k), and progress.csv's columns of what happened meanwhile: the mean
        test episode length (test_length: an actor that earns its return by staying alive,
        such as a Hopper standing still for 1000 steps, shows there) and what the network did
        (activity.Activity.summary)."""
        target, lengths = self.activity_target(), []
        if target is None:
            returns, summary = self.evaluate_epoch(k, progress, lengths), {}
        else:
            with activity.Activity(*target) as recorded:
                returns = self.evaluate_epoch(k, progress, lengths)
            summary = recorded.summary()
        if len(lengths) != len(returns):
            raise RuntimeError(f"{type(self).__name__}.evaluate_epoch gave {len(returns)} returns and "
                               f"{len(lengths)} episode lengths")
        return returns, dict(test_length=float(np.mean(lengths)), **summary)

    @staticmethod
    def test_stats(returns) -> dict:
        return dict(test_return=float(np.mean(returns)), test_return_std=float(np.std(returns)))
