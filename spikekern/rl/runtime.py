"""What every trainer shares: checking and setting the neuron backend, threads and device;
rebuilding a saved config; running (or resuming) a training run."""
from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import torch

import spikekern
from spikekern._backend import BACKENDS

from .checkpoint import checkpoint_step, has_checkpoint, interrupt_on_sigterm, load_checkpoint, load_previous


GROUP = "seeds.json"  # in the folder of a run of several seeds: which seeds (each in seed_dir)


def seed_dir(out: Path, seed: int) -> Path:
    """The folder of one seed of a run of several seeds in `out`."""
    return Path(out) / f"seed{seed}"


def read_group(out: Path) -> list[int] | None:
    """The seeds of the run of several seeds in `out`, or None when `out` holds no such run."""
    path = Path(out) / GROUP
    return [int(s) for s in json.loads(path.read_text())["seeds"]] if path.exists() else None


def saved_run(out: Path) -> bool:
    """Whether `out` holds a run to resume: a checkpoint of its own, or, for a run of several
    seeds, of one of its seeds. A folder whose run was killed before its first checkpoint holds
    nothing to resume (its config and empty progress.csv are written again by a new start)."""
    group = read_group(out)
    return has_checkpoint(out) or (group is not None and any(has_checkpoint(seed_dir(out, s)) for s in group))


def load_group(out: Path, seeds: list[int]) -> list[dict]:
    """Each seed's checkpoint for resuming a run of several seeds together: the newest step
    every seed saved. The seeds are saved one after another, so a run killed during a save
    has its first seeds one checkpoint ahead of the rest; those resume from their previous
    checkpoint (with a warning), and the run loses that one epoch, not the run."""
    states = [load_checkpoint(seed_dir(out, s)) for s in seeds]
    common = min(checkpoint_step(st) for st in states)
    for k, seed in enumerate(seeds):
        if checkpoint_step(states[k]) != common:
            previous = load_previous(seed_dir(out, seed))
            if previous is not None and checkpoint_step(previous) == common:
                warnings.warn(f"seed {seed} saved step {checkpoint_step(states[k])}, the others only step {common} "
                              f"(a run stopped while saving): seed {seed} resumes from its previous checkpoint",
                              RuntimeWarning, stacklevel=2)
                states[k] = previous
    return states  # any seed still apart is refused by the trainer's lockstep check, naming the steps


def check_backend(cfg) -> torch.device:
    """One clear error if cfg.backend cannot run on cfg.device; changes nothing. Returns the
    torch device."""
    if cfg.backend not in BACKENDS:
        raise ValueError(f"unknown backend {cfg.backend!r}; choose one of {list(BACKENDS)}")
    try:
        device = torch.device(cfg.device)
    except RuntimeError:
        raise ValueError(f"--device {cfg.device!r} is not a torch device (cpu, cuda, cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        why = "this torch is built without CUDA" if torch.version.cuda is None else "no CUDA device is visible"
        raise RuntimeError(f"--device {cfg.device}: {why} (torch {torch.__version__})")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {cfg.device!r}: the trainers run on cpu or cuda")
    if cfg.backend != "auto" and cfg.backend not in spikekern.available_backends(device):
        why = spikekern.why_unavailable(cfg.backend, device)
        raise RuntimeError(f"backend {cfg.backend!r} is not available on {cfg.device}: {why}")
    return device


def prepare(cfg) -> torch.device:
    """Validate cfg.backend for cfg.device (one clear error) and apply cfg.threads; returns
    the torch device. The backend is not made a process default: the trainers hand
    cfg.backend to their models, so two trainers in one process keep their own."""
    device = check_backend(cfg)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    return device


def make_config(config_cls, given: dict):
    """A trainer config from the options a user gave (the rest keep their defaults; DQN's
    defaults are the preset of the chosen env)."""
    preset = getattr(config_cls, "preset", None)
    base = preset(given.get("env", config_cls.env)) if preset else config_cls()
    return dataclasses.replace(base, **given)


def config_from_dict(config_cls, d: dict):
    """A trainer config from its saved dict (JSON turned the tuple fields into lists)."""
    tuples = {f.name for f in dataclasses.fields(config_cls) if isinstance(f.default, tuple)}
    return config_cls(**{k: tuple(v) if k in tuples else v for k, v in d.items()})


def run_trainer(trainer_cls, config_cls, cfg, out: Path, resume: bool = False, progress: bool = True,
                overrides: dict | None = None, on_start=None, seeds=None) -> dict:
    """Train with cfg into `out` (seeds: several seeds in one process, one folder each under
    `out`), or with resume continue the run saved there (its own settings and seeds, explicit
    overrides such as more steps on top). SIGTERM saves a checkpoint as Ctrl-C does.
    on_start(trainer), if given, is called once the trainer is built (and resumed)."""
    out = Path(out)
    state = None
    if resume:  # loaded once: a checkpoint with a full replay buffer is large
        group = read_group(out)
        if group is not None:
            seeds = group
            state = load_group(out, group)
        else:
            state = load_checkpoint(out)
        first = state[0] if isinstance(state, list) else state
        cfg = dataclasses.replace(config_from_dict(config_cls, first["config"]), **(overrides or {}))
    trainer = trainer_cls(cfg, out, resume=state if resume else False, seeds=seeds)
    if on_start is not None:
        on_start(trainer)
    with interrupt_on_sigterm():
        return trainer.train(progress=progress)
